"""The GraphQL documents the Shopify connector sends, each with its cost by Shopify's rules.

    order = ORDER.shape(frozenset())                             # the fields, and 3 points an order
    document, cost = orders_page(order, first=50)                # 2 + 50 x 3 = 152 points
    batch = OrdersOfCustomers(order); batch.first_pages("n0", ids, 5); batch.render()

Prices follow upstreams.md (an object 1, scalars 0, a connection 2 + ``first`` x one node, a list of
``ids`` one element each, a mutation 10 plus its payload): the connector asks for a query's points
before sending it and splits what would cost more than one query may. Every argument with a
default that matters is sent (``sortKey: ID``, ``reverse: false``, ``ordersCount(limit: null)``), so a
change of Shopify's defaults cannot change what Harmonia reads. Values travel as variables, never
spliced into the text. Orders are read without a status filter: unlike REST's ``status=open``, the
GraphQL ``orders`` connection lists every status. Orders and customers are read with the fields of
``shopify_fields`` that the shop has (``Shape``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harmonia.sources.shopify_fields import MONEY, Shape

VISIT = "{ landingPage utmParameters { campaign } }"
ATTRIBUTION = f"id customerJourneySummary {{ lastVisit {VISIT} firstVisit {VISIT} }}"
ATTRIBUTION_COST = 6
LINE_ITEMS_FIRST = 10
LINE_ITEM = f"title quantity originalUnitPriceSet {MONEY}"
LINE_ITEM_COST = 3
PAGE_INFO = "pageInfo { hasNextPage endCursor }"
SCOPES = "harmoniaScopes: currentAppInstallation { accessScopes { handle } }"
SCOPES_COST = 2
MUTATION_COST = 10


def connection_cost(first: int, node_cost: int) -> int:
    return 2 + first * node_cost


def orders_page(order: Shape, first: int, with_scopes: bool = False) -> tuple[str, int]:
    scopes = SCOPES if with_scopes else ""
    return (f"query HarmoniaOrders($first: Int!, $after: String) {{ orders(first: $first, after: $after, "
            f"sortKey: ID, reverse: false) {{ edges {{ cursor node {{ {order.text} }} }} {PAGE_INFO} }} {scopes} }}",
            connection_cost(first, order.cost) + (SCOPES_COST if with_scopes else 0))


def customers_page(customer: Shape, first: int) -> tuple[str, int]:
    return (f"query HarmoniaCustomers($first: Int!, $after: String) {{ customers(first: $first, after: $after, "
            f"sortKey: ID, reverse: false) {{ edges {{ cursor node {{ {customer.text} }} }} {PAGE_INFO} }} }}",
            connection_cost(first, customer.cost))


def by_ids(kind: str, fields: str, each: int, count: int, with_scopes: bool = False) -> tuple[str, int]:
    """``nodes(ids: $ids)`` for ``count`` records of one type (Order, Customer)."""
    scopes = SCOPES if with_scopes else ""
    return (f"query Harmonia{kind}sByIds($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on {kind} {{ {fields} }} }} "
            f"{scopes} }}", count * each + (SCOPES_COST if with_scopes else 0))


def order_count(with_scopes: bool = False) -> tuple[str, int]:
    scopes = SCOPES if with_scopes else ""
    # limit: null, or Shopify caps the count at 10 000: a silently wrong total.
    return f"query HarmoniaOrderCount {{ ordersCount(limit: null) {{ count }} {scopes} }}", 1 + (
        SCOPES_COST if with_scopes else 0)


LINE_ITEMS = Shape(f"id lineItems(first: {LINE_ITEMS_FIRST}) {{ nodes {{ {LINE_ITEM} }} {PAGE_INFO} }}",
                   1 + connection_cost(LINE_ITEMS_FIRST, LINE_ITEM_COST))


def line_items(count: int) -> tuple[str, int]:
    return by_ids("Order", LINE_ITEMS.text, LINE_ITEMS.cost, count)


def more_line_items() -> tuple[str, int]:
    """The rest of one order's items, for the rare order with more than ``LINE_ITEMS_FIRST``."""
    return (f"query HarmoniaLineItems($id: ID!, $after: String) {{ order(id: $id) {{ lineItems(first: 250, "
            f"after: $after) {{ nodes {{ {LINE_ITEM} }} {PAGE_INFO} }} }} }}",
            1 + connection_cost(250, LINE_ITEM_COST))


# Only what upstreams.md names for the doctor: a stricter copy of the API must answer it too.
SHOP = f"query HarmoniaShop {{ shop {{ name plan {{ displayName }} }} {SCOPES} }}"
SHOP_COST = 2 + SCOPES_COST


def customer_orders_cost(order: Shape, limit: int) -> int:
    """One customer with one page of its orders."""
    return 1 + connection_cost(limit, order.cost)


def email_lookup_cost(order: Shape, limit: int) -> int:
    """``customers(first: 1, query: email)``: the customer, its address and a page of its orders."""
    return connection_cost(1, 2 + connection_cost(limit, order.cost))


def email_query(email: str) -> str | None:
    """Shopify's search term for exactly this address; None for text that cannot be one (quotes,
    spaces, search syntax), which no customer can have."""
    if not email or any(c in email for c in "\"'\\ :()") or "@" not in email:
        return None
    return f'email:"{email}"'


@dataclass
class OrdersOfCustomers:
    """One document reading many customers' order pages: first pages by ``nodes(ids:)`` (one field per
    page size), other pages and email lookups by aliases. Aliases are ours (``c0``, ``e0``), never
    client text."""

    order: Shape
    lines: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    declarations: list[str] = field(default_factory=list)
    cost: int = 0

    def orders_field(self, limit: int, after_var: str | None) -> str:
        after = f", after: ${after_var}" if after_var else ""
        return (f"orders(first: {int(limit)}{after}, sortKey: ID, reverse: false) "
                f"{{ edges {{ cursor node {{ {self.order.text} }} }} {PAGE_INFO} }}")

    def first_pages(self, alias: str, ids: list[str], limit: int) -> None:
        self._declare(alias, "[ID!]!", ids)
        orders = self.orders_field(limit, None)
        self.lines.append(f"{alias}: nodes(ids: ${alias}) {{ ... on Customer {{ id {orders} }} }}")
        self.cost += len(ids) * customer_orders_cost(self.order, limit)

    def page_after(self, alias: str, customer_id: str, limit: int, after: str) -> None:
        self._declare(alias, "ID!", customer_id)
        self._declare(f"{alias}_after", "String", after)
        self.lines.append(f"{alias}: customer(id: ${alias}) {{ id {self.orders_field(limit, f'{alias}_after')} }}")
        self.cost += customer_orders_cost(self.order, limit)

    def by_email(self, alias: str, query: str, limit: int, after: str | None) -> None:
        self._declare(alias, "String!", query)
        after_var = None
        if after is not None:
            after_var = f"{alias}_after"
            self._declare(after_var, "String", after)
        self.lines.append(f"{alias}: customers(first: 1, query: ${alias}) {{ nodes {{ id defaultEmailAddress "
                          f"{{ emailAddress }} {self.orders_field(limit, after_var)} }} }}")
        self.cost += email_lookup_cost(self.order, limit)

    def _declare(self, name: str, kind: str, value: Any) -> None:
        self.declarations.append(f"${name}: {kind}")
        self.variables[name] = value

    def render(self) -> str:
        declared = f"({', '.join(self.declarations)})" if self.declarations else ""
        return f"query HarmoniaCustomerOrders{declared} {{ {' '.join(self.lines)} }}"


def customers_by_email(customer: Shape, queries: list[str]) -> tuple[str, dict[str, Any], int]:
    """One aliased ``customers(first: 1, query:)`` per address (``e0``, ``e1``...)."""
    declarations = ", ".join(f"$e{i}: String!" for i in range(len(queries)))
    fields = " ".join(f"e{i}: customers(first: 1, query: $e{i}) {{ nodes {{ {customer.text} }} }}"
                      for i in range(len(queries)))
    return (f"query HarmoniaCustomersByEmail({declarations}) {{ {fields} }}",
            {f"e{i}": q for i, q in enumerate(queries)}, len(queries) * connection_cost(1, customer.cost))


def email_search(customer: Shape) -> tuple[str, int]:
    """Up to ten customers for an address, when the one-customer lookup found someone else."""
    return (f"query HarmoniaCustomerSearch($query: String!) {{ customers(first: 10, query: $query) "
            f"{{ nodes {{ {customer.text} }} }} }}", connection_cost(10, customer.cost))
