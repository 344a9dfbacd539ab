"""Many customers' order pages in as few Shopify calls as the cost limit allows.

    pages = await orders_of_customers(store, [(CustomerRef.by_id("6200000000"), 5, None),
                                              (CustomerRef.by_email("ada@example.com"), 5, None)])
    pages[("id:6200000000", 5, None)].items           # that customer's first five orders

The keys are packed, in order, into documents of at most one query's worth of points: customers known
by id and asking for a first page share one ``nodes(ids:)`` field per page size; a later page is an
aliased ``customer(id:)``; a customer known only by email is an aliased ``customers(first: 1, query:
"email:...")`` that brings its orders along, so the email lookup costs no call of its own. Shopify's
search is not exact: a lookup whose customer has another address is asked again exactly (rare).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harmonia.errors import UpstreamUnavailable
from harmonia.sources import shopify_documents as docs
from harmonia.sources.normalize import normalize_email
from harmonia.sources.records import Page, ShopifyOrder
from harmonia.sources.shopify_admin import ERROR_PATHS, TooCostly
from harmonia.sources.shopify_fields import Shape
from harmonia.sources.shopify_records import gid, order_page

if TYPE_CHECKING:
    from harmonia.sources.shopify import ShopifyStore

SOURCE = "shopify"
PAGE_MAX = 250


class CustomerRef:
    """A Shopify customer by its id (the CRM's ``shopify_customer_id``) or, failing that, by email, as a
    plain string (``"id:6200000000"``, ``"email:ada@example.com"``) so that it can key a cache."""

    @staticmethod
    def by_id(customer_id: str) -> str:
        return f"id:{customer_id}"

    @staticmethod
    def by_email(email: str) -> str:
        return f"email:{normalize_email(email) or ''}"

    @staticmethod
    def read(ref: str) -> tuple[str, str]:
        kind, _, value = ref.partition(":")
        return kind, value


OrdersKey = tuple[str, int, str | None]  # (CustomerRef, page size, Shopify's cursor)
EMPTY: Page[ShopifyOrder] = Page(items=[], next_cursor=None)


def _cost(order: Shape, key: OrdersKey) -> int:
    kind, _ = CustomerRef.read(key[0])
    return docs.customer_orders_cost(order, key[1]) if kind == "id" else docs.email_lookup_cost(order, key[1])


async def orders_of_customers(store: ShopifyStore, keys: Sequence[OrdersKey]) -> dict[OrdersKey, Page[ShopifyOrder]]:
    pages: dict[OrdersKey, Page[ShopifyOrder]] = {}
    wanted: list[OrdersKey] = []
    budget = store.admin.budget()
    # A page too big for one query (a small bucket) comes shorter, with a cursor: the caller pages on.
    order = store.order_fields
    fit = max(1, min(PAGE_MAX, int((budget - docs.email_lookup_cost(order, 0)) // order.cost)))
    for ref, limit, after in dict.fromkeys(keys):
        key = (ref, max(1, min(fit, limit)), after)
        kind, value = CustomerRef.read(ref)
        if (kind == "id" and value.isdigit()) or (kind == "email" and docs.email_query(value)):
            wanted.append(key)
        pages[(ref, limit, after)] = EMPTY
    groups: list[list[OrdersKey]] = [[]]
    spent = 0
    for key in wanted:
        if groups[-1] and spent + _cost(order, key) > budget:
            groups.append([])
            spent = 0
        groups[-1].append(key)
        spent += _cost(order, key)
    answers = await asyncio.gather(*(_halving(store, group) for group in groups if group))
    by_clamped = {k: v for answer in answers for k, v in answer.items()}
    for ref, limit, after in list(pages):
        pages[(ref, limit, after)] = by_clamped.get((ref, max(1, min(fit, limit)), after), EMPTY)
    return pages


async def _halving(store: ShopifyStore, group: list[OrdersKey]) -> dict[OrdersKey, Page[ShopifyOrder]]:
    try:
        return await _one_call(store, group)
    except TooCostly:
        if len(group) == 1:
            raise UpstreamUnavailable(SOURCE, "one customer's orders cost more than a shopify query may") from None
        half = len(group) // 2
        return {**await _halving(store, group[:half]), **await _halving(store, group[half:])}


async def _one_call(store: ShopifyStore, group: list[OrdersKey]) -> dict[OrdersKey, Page[ShopifyOrder]]:
    first_pages: dict[int, list[OrdersKey]] = defaultdict(list)
    aliases: dict[str, OrdersKey] = {}
    for key in group:
        kind, _ = CustomerRef.read(key[0])
        if kind == "id" and key[2] is None:
            first_pages[key[1]].append(key)
        else:
            aliases[f"{'c' if kind == 'id' else 'e'}{len(aliases)}"] = key

    def build() -> tuple[str, Mapping[str, Any], float]:
        document = docs.OrdersOfCustomers(store.order_fields)
        for alias, (ref, limit, after) in aliases.items():
            value = CustomerRef.read(ref)[1]
            if alias.startswith("c"):
                document.page_after(alias, gid("Customer", value), limit, after or "")
            else:
                document.by_email(alias, docs.email_query(value) or "", limit, after)
        for n, (limit, keys) in enumerate(first_pages.items()):
            document.first_pages(f"n{n}", [gid("Customer", CustomerRef.read(k[0])[1]) for k in keys], limit)
        return document.render(), document.variables, document.cost

    data = await store.run(build)
    if data.get(ERROR_PATHS):
        # A customer missing from the answer is not a customer without orders: say Shopify failed.
        raise UpstreamUnavailable(SOURCE, "shopify answered an error for some customers' orders")
    pages: dict[OrdersKey, Page[ShopifyOrder]] = {}
    for n, keys in enumerate(first_pages.values()):
        nodes = data.get(f"n{n}") or []
        for key, node in zip(keys, list(nodes) + [None] * (len(keys) - len(nodes)), strict=False):
            pages[key] = _page(node)
    for alias, key in aliases.items():
        if alias.startswith("c"):
            pages[key] = _page(data.get(alias))
        else:
            pages[key] = await _by_email(store, key, data.get(alias))
    return pages


def _page(customer: Any) -> Page[ShopifyOrder]:
    if not isinstance(customer, dict):
        return EMPTY  # no such customer (any more): no orders
    orders, after = order_page(customer.get("orders"))
    return Page(items=orders, next_cursor=after)


async def _by_email(store: ShopifyStore, key: OrdersKey, connection: Any) -> Page[ShopifyOrder]:
    ref, limit, after = key
    _, wanted = CustomerRef.read(ref)
    nodes = connection.get("nodes") if isinstance(connection, dict) else None
    if not isinstance(nodes, list) or not nodes or not isinstance(nodes[0], dict):
        return EMPTY
    node = nodes[0]
    email = normalize_email((node.get("defaultEmailAddress") or {}).get("emailAddress"))
    if email == wanted:
        return _page(node)
    exact = await store.find_customer_by_email(wanted)  # the search matched someone else
    if exact is None:
        return EMPTY
    return await store.customer_orders(exact.id, limit, after)
