"""Resolvers for the simulated Admin API's reads: the root fields, a customer's orders, an order's items.

    attach(admin_schema())     # once per process; each request passes its ShopView as the context

Every resolver reads the request's ``ShopView`` (``info.context``), so one schema serves every
simulator state a process holds (tests build many). Input arrays over 250 items are refused as
Shopify refuses them; search strings are read by ``shopify_search``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema

from harmonia.simulators.shopify_graph import (
    MAX_INPUT,
    SHOP_DOMAIN,
    Row,
    ShopView,
    connection,
    gid,
    line_item_node,
    parse_gid,
)
from harmonia.simulators.shopify_search import Term, compare, date_filter, epoch, paginate, parse_search

Info = GraphQLResolveInfo[ShopView]
ORDER_STATUSES = {"open", "closed", "cancelled", "not_closed"}
SCOPE_DESCRIPTIONS = {"read_all_orders": "Read all orders, not only the last 60 days"}


def _view(info: Info) -> ShopView:
    view: ShopView = info.context
    return view


def _status(order: Row) -> str:
    return "cancelled" if order.get("cancelled_at") else "closed" if order.get("closed_at") else "open"


def _order_passes(order: Row, term: Term) -> bool:
    field = term.field
    if field is None:
        text = f"{order.get('name', '')} {order.get('email') or ''}".lower()
        return term.value.lower() in text
    if field in ("created_at", "processed_at", "updated_at"):
        return date_filter(term, epoch(order.get(field) or order["created_at"]))
    if field == "id":
        return compare(order["id"], term)
    if field == "customer_id":
        return order.get("customer") is not None and compare(order["customer"]["id"], term)
    if field == "status":
        wanted = term.value.lower()
        if wanted not in ORDER_STATUSES:
            return True  # Shopify ignores a value it does not know rather than failing the search
        status = _status(order)
        return status != "closed" if wanted == "not_closed" else status == wanted
    if field in ("email", "financial_status", "name"):
        return compare(order.get(field), term)
    return True  # an unknown filter narrows nothing


def _customer_passes(customer: Row, term: Term) -> bool:
    field = term.field
    if field is None:
        text = " ".join(str(customer.get(k) or "") for k in ("email", "first_name", "last_name")).lower()
        return term.value.lower() in text
    if field in ("created_at", "updated_at"):
        return date_filter(term, epoch(customer.get(field) or customer["created_at"]))
    if field == "id":
        return compare(customer["id"], term)
    if field in ("email", "first_name", "last_name", "phone", "state"):
        return compare(customer.get(field), term)
    return True


def _search(rows: list[Row], query: str | None, passes: Callable[[Row, Term], bool]) -> list[Row]:
    terms = parse_search(query)
    if not terms:
        return rows
    return [row for row in rows if all(passes(row, term) for term in terms)]


def _page(rows: list[Row], args: dict[str, Any], shape: Callable[[Row], Row], ids_follow_time: bool) -> Row:
    """A connection page; orders' ids grow with their time (as Shopify's do), so every order sort but
    price and names pages in id order without sorting."""
    sort_key = args.get("sortKey") or "ID"
    by_id = sort_key in ("ID", "RELEVANCE", "ORDER_NUMBER") or (ids_follow_time and sort_key in (
        "CREATED_AT", "PROCESSED_AT", "UPDATED_AT"))
    time_field = "updated_at" if sort_key == "UPDATED_AT" else "created_at"
    key = None if by_id else (lambda r: epoch(r.get(time_field) or r["created_at"]))
    window = paginate(rows, first=args.get("first"), after=args.get("after"), last=args.get("last"),
                      before=args.get("before"), reverse=bool(args.get("reverse")), key=key)
    return connection(window.rows, window.has_next, window.has_previous, shape)


# --- root fields -------------------------------------------------------------------------------

def _lookup(view: ShopView, global_id: str) -> Row | None:
    parsed = parse_gid(global_id)
    if parsed is None:
        return None
    kind, number = parsed
    if kind == "Order":
        order = view.index.orders_by_id.get(number)
        return view.order(order) if order is not None and view.visible(order) else None
    if kind == "Customer":
        customer = view.index.customers_by_id.get(number)
        return view.customer(customer) if customer is not None else None
    if kind == "Shop" and number == 1:
        return _shop()
    return None


def resolve_node(_: Any, info: Info, id: str) -> Row | None:
    return _lookup(_view(info), id)


def resolve_nodes(_: Any, info: Info, ids: list[str]) -> list[Row | None]:
    if len(ids) > MAX_INPUT:
        raise GraphQLError(f"The input array size of {len(ids)} is greater than the maximum allowed of {MAX_INPUT}.",
                           extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"})
    view = _view(info)
    return [_lookup(view, i) for i in ids]


def resolve_typed(kind: str) -> Callable[..., Row | None]:
    def resolve(_: Any, info: Info, id: str) -> Row | None:
        parsed = parse_gid(id)
        return _lookup(_view(info), id) if parsed is not None and parsed[0] == kind else None

    return resolve


def resolve_orders(_: Any, info: Info, **args: Any) -> Row:
    view = _view(info)
    rows = _search(view.all_orders(), args.get("query"), _order_passes)
    return _page(rows, args, view.order, ids_follow_time=True)


def resolve_orders_count(_: Any, info: Info, query: str | None = None,
                         limit: int | None = None) -> Row:
    count = len(_search(_view(info).all_orders(), query, _order_passes))
    if limit is not None and count > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": count, "precision": "EXACT"}


def _customer_candidates(view: ShopView, query: str | None) -> list[Row]:
    """Every customer, or only those with the address an ``email:`` term names (the index's lookup)."""
    exact = [t for t in parse_search(query) if t.field == "email" and t.op == "="]
    if not exact:
        return view.index.customers
    return view.index.customers_by_email.get(exact[0].value.strip().lower(), [])


def resolve_customers(_: Any, info: Info, **args: Any) -> Row:
    view = _view(info)
    rows = _search(_customer_candidates(view, args.get("query")), args.get("query"), _customer_passes)
    return _page(rows, args, view.customer, ids_follow_time=False)


def resolve_customers_count(_: Any, info: Info, query: str | None = None,
                            limit: int | None = None) -> Row:
    count = len(_search(_view(info).index.customers, query, _customer_passes))
    if limit is not None and count > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": count, "precision": "EXACT"}


def _shop() -> Row:
    return {"__typename": "Shop", "id": gid("Shop", 1), "name": "Harmonia Outdoor", "myshopifyDomain": SHOP_DOMAIN,
            "currencyCode": "USD", "ianaTimezone": "America/New_York",
            "plan": {"displayName": "Basic", "partnerDevelopment": False, "shopifyPlus": False}}


def resolve_shop(_: Any, info: Info) -> Row:
    return _shop()


def resolve_installation(_: Any, info: Info) -> Row:
    scopes = _view(info).scopes
    return {"__typename": "AppInstallation", "id": gid("AppInstallation", 1),
            "accessScopes": [{"handle": s, "description": SCOPE_DESCRIPTIONS.get(s, s.replace("_", " "))}
                             for s in scopes]}


# --- nested fields -----------------------------------------------------------------------------

def resolve_customer_orders(customer: Row, info: Info, **args: Any) -> Row:
    view = _view(info)
    rows = [o for o in view.index.orders_by_customer.get(customer["_row"]["id"], []) if view.visible(o)]
    return _page(_search(rows, args.get("query"), _order_passes), args, view.order, ids_follow_time=True)


def resolve_order_customer(order: Row, info: Info) -> Row | None:
    owner = order["_row"].get("customer")
    if not owner:
        return None
    view = _view(info)
    customer = view.index.customers_by_id.get(owner["id"])
    return view.customer(customer) if customer is not None else None


def resolve_line_items(order: Row, info: Info, **args: Any) -> Row:
    row = order["_row"]
    items = [{**item, "_order": row} for item in row.get("line_items") or []]
    window = paginate(items, first=args.get("first"), after=args.get("after"), last=args.get("last"),
                      before=args.get("before"), reverse=bool(args.get("reverse")))
    return connection(window.rows, window.has_next, window.has_previous, lambda item: line_item_node(row, item))


def attach(schema: GraphQLSchema) -> GraphQLSchema:
    """Fit the schema's fields with these resolvers (idempotent)."""
    query = schema.query_type
    assert query is not None
    resolvers: dict[str, Callable[..., Any]] = {
        "node": resolve_node, "nodes": resolve_nodes, "order": resolve_typed("Order"),
        "customer": resolve_typed("Customer"), "orders": resolve_orders, "ordersCount": resolve_orders_count,
        "customers": resolve_customers, "customersCount": resolve_customers_count, "shop": resolve_shop,
        "currentAppInstallation": resolve_installation,
    }
    for name, resolver in resolvers.items():
        query.fields[name].resolve = resolver
    customer, order = schema.get_type("Customer"), schema.get_type("Order")
    customer.fields["orders"].resolve = resolve_customer_orders  # type: ignore[union-attr]
    order.fields["customer"].resolve = resolve_order_customer  # type: ignore[union-attr]
    order.fields["lineItems"].resolve = resolve_line_items  # type: ignore[union-attr]
    return schema
