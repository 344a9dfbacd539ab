"""Shopify's GraphQL Admin objects to Harmonia's records: ids, money, dates, statuses, attribution.

    order = decode_order(node)      # ShopifyOrder | None (None: not an order, or unreadable)

Ids are the number in the gid (``gid://shopify/Order/450789469`` -> ``"450789469"``), the same as
REST's, so Harmonia's global ids did not change with the API. Money is ``shopMoney`` (the shop's
currency), exact, two decimals at least; Shopify's ``"20.0"`` becomes ``"20.00"``. Statuses and
marketing states are lower-cased as the REST API wrote them (``PARTIALLY_REFUNDED`` ->
``partially_refunded``). The campaign is the converting visit's ``utm_campaign``: ``lastVisit``,
else ``firstVisit`` (a one-visit journey), read from ``utmParameters`` or, when Shopify leaves that
out, from the visit's landing URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harmonia.errors import UpstreamUnavailable
from harmonia.sources.normalize import MEMO_SIZE, normalize_datetime, normalize_email, normalize_money, normalize_phone
from harmonia.sources.records import (
    LineItem,
    Money,
    OrderAttribution,
    OrderLineItems,
    ShopifyCustomer,
    ShopifyOrder,
    direct_constructor,
)

SOURCE = "shopify"


def legacy_id(gid: Any, kind: str) -> str | None:
    """``"gid://shopify/Order/12"`` -> ``"12"`` when the gid names a ``kind``; None otherwise."""
    if not isinstance(gid, str):
        return None
    prefix = f"gid://shopify/{kind}/"
    number = gid[len(prefix):] if gid.startswith(prefix) else ""
    number = number.split("?", 1)[0]
    return number if number.isdigit() else None


def gid(kind: str, number: str) -> str:
    return f"gid://shopify/{kind}/{number}"


def _shop_money(bag: Any) -> Money | None:
    money = bag.get("shopMoney") if isinstance(bag, dict) else None
    if not isinstance(money, dict):
        return None
    return normalize_money(money.get("amount"), money.get("currencyCode"))


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


_new_order = direct_constructor(ShopifyOrder)


def decode_order(node: Any) -> ShopifyOrder | None:
    if not isinstance(node, dict):
        return None
    order_id = legacy_id(node.get("id"), "Order")
    if order_id is None:
        return None
    total = _shop_money(node.get("totalPriceSet"))
    created_at = normalize_datetime(node.get("createdAt"))
    if total is None or created_at is None:
        raise UpstreamUnavailable(SOURCE, "shopify sent an order without a total or a creation date")
    return _new_order(id=order_id, name=str(node.get("name") or ""), created_at=created_at, total_price=total,
                      financial_status=_lower(node.get("displayFinancialStatus")),
                      email=normalize_email(node.get("email") or _customer_email(node)),
                      cancelled_at=normalize_datetime(node.get("cancelledAt")),
                      closed_at=normalize_datetime(node.get("closedAt")))


def _customer_email(order: Mapping[str, Any]) -> str | None:
    """The order's customer's address: where a shop has no ``Order.email`` (``shopify_fields``)."""
    customer = order.get("customer")
    address = customer.get("defaultEmailAddress") if isinstance(customer, dict) else None
    email = address.get("emailAddress") if isinstance(address, dict) else None
    return email if isinstance(email, str) else None


def decode_customer(node: Any) -> ShopifyCustomer | None:
    if not isinstance(node, dict):
        return None
    customer_id = legacy_id(node.get("id"), "Customer")
    if customer_id is None:
        return None
    email = node.get("defaultEmailAddress") or {}
    phone = node.get("defaultPhoneNumber") or {}
    count = node.get("numberOfOrders")  # UnsignedInt64: a string
    spent = node.get("amountSpent") or {}
    return ShopifyCustomer(
        id=customer_id,
        email=normalize_email(email.get("emailAddress")),
        first_name=node.get("firstName"),
        last_name=node.get("lastName"),
        phone=normalize_phone(phone.get("phoneNumber")),
        orders_count=int(count) if isinstance(count, str | int) and str(count).isdigit() else None,
        total_spent=normalize_money(spent.get("amount"), spent.get("currencyCode")),
        created_at=normalize_datetime(node.get("createdAt")),
        email_marketing_state=_lower(email.get("marketingState")),
    )


@lru_cache(maxsize=MEMO_SIZE)  # pure, and a campaign's landing URL repeats across its orders
def utm_campaign(landing_page: str | None) -> str | None:
    """``utm_campaign`` from a landing URL's query, URL-decoded with ``+`` as a space."""
    if not landing_page or "?" not in landing_page:
        return None
    values = parse_qs(urlsplit(landing_page).query).get("utm_campaign")
    return values[0] if values else None


def _visit_campaign(visit: Any) -> str | None:
    if not isinstance(visit, dict):
        return None
    utm = visit.get("utmParameters")
    if isinstance(utm, dict) and isinstance(utm.get("campaign"), str) and utm["campaign"]:
        return str(utm["campaign"])
    return utm_campaign(visit.get("landingPage") if isinstance(visit.get("landingPage"), str) else None)


def decode_attribution(node: Any) -> OrderAttribution | None:
    order_id = legacy_id(node.get("id"), "Order") if isinstance(node, dict) else None
    if order_id is None:
        return None
    journey = node.get("customerJourneySummary")
    journey = journey if isinstance(journey, dict) else {}
    campaign = _visit_campaign(journey.get("lastVisit")) or _visit_campaign(journey.get("firstVisit"))
    return OrderAttribution(order_id=order_id, utm_campaign=campaign)


def decode_line_items(nodes: Any) -> list[LineItem]:
    items: list[LineItem] = []
    for raw in nodes if isinstance(nodes, list) else ():
        if not isinstance(raw, dict):
            raise UpstreamUnavailable(SOURCE, "shopify sent a line item Harmonia could not read")
        price = _shop_money(raw.get("originalUnitPriceSet"))
        quantity = raw.get("quantity")
        if price is None or not isinstance(quantity, int):
            raise UpstreamUnavailable(SOURCE, "shopify sent a line item without a price or a quantity")
        items.append(LineItem(title=str(raw.get("title") or ""), quantity=quantity, price=price))
    return items


def line_items_of(node: Mapping[str, Any]) -> tuple[list[LineItem], str | None]:
    """An order's ``lineItems`` connection: its items, and the cursor of more when there are."""
    connection = node.get("lineItems")
    connection = connection if isinstance(connection, dict) else {}
    info = connection.get("pageInfo") or {}
    more = info.get("endCursor") if info.get("hasNextPage") else None
    return decode_line_items(connection.get("nodes")), more


def order_page(connection: Any) -> tuple[list[ShopifyOrder], str | None]:
    """A connection's orders (from ``edges`` or ``nodes``) and the cursor after them, None at the end."""
    if not isinstance(connection, dict):
        raise UpstreamUnavailable(SOURCE, "shopify sent no orders connection")
    edges = connection.get("edges")
    nodes = [e.get("node") for e in edges if isinstance(e, dict)] if isinstance(edges, list) else connection.get(
        "nodes") or []
    orders = [o for o in (decode_order(n) for n in nodes) if o is not None]
    info = connection.get("pageInfo") or {}
    return orders, (info.get("endCursor") if info.get("hasNextPage") else None)


def decode_items_record(order_id: str, items: list[LineItem]) -> OrderLineItems:
    return OrderLineItems(order_id=order_id, items=tuple(items))
