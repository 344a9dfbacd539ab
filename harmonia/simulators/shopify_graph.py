"""The simulated shop's records as GraphQL Admin objects: resolvers for ``shopify_schema``.

    view = ShopView.of(state)                       # per request: the world's index, the order window
    result = execute_sync(admin_schema(), document, context_value=view, variable_values=...)

The world keeps Shopify's REST shapes (``harmonia.simulators.data``); each object is rendered in
the GraphQL shape when asked: gids for ids, ``MoneyBag``/``MoneyV2`` with Shopify's decimals
(trailing zeros dropped, ``"20.0"``), UTC ``...Z`` datetimes, enums in capitals, ``numberOfOrders``
as a string (UnsignedInt64). An order's landing URL becomes its ``customerJourneySummary``: the
converting visit carries the UTM parameters, and one order in three has a single visit
(``lastVisit`` null), so a client must read ``firstVisit`` too. Without ``read_all_orders`` only
orders of the last ``shopify_orders_window_days`` (counted back from the dataset's newest order)
exist for the API, wherever they are read.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.shopify_search import encode_cursor, epoch

SHOP_DOMAIN = "harmonia-outdoor.myshopify.com"
MAX_INPUT = 250
INDEX_KEY = "shopify_index"
Row = dict[str, Any]


@dataclass
class Index:
    """Lookups built once per world (and after each write) so a request never scans the whole store."""

    customers: list[Row]
    customers_by_id: dict[int, Row]
    orders: list[Row]                       # by id, which is by creation time too
    order_created: list[float]              # the same order
    orders_by_id: dict[int, Row]
    orders_by_customer: dict[int, list[Row]]
    newest: float
    customers_by_email: dict[str, list[Row]]  # by trimmed, lower-cased address: an email search is a lookup
    # Each record's GraphQL shape, built once per index (a write rebuilds the index, and so the shapes).
    shapes: dict[tuple[str, int], Row] = field(default_factory=dict)

    @classmethod
    def of(cls, customers: list[Row], orders: list[Row]) -> Index:
        customers = sorted(customers, key=lambda c: int(c["id"]))
        orders = sorted(orders, key=lambda o: int(o["id"]))
        by_customer: dict[int, list[Row]] = {}
        for order in orders:
            if order.get("customer"):
                by_customer.setdefault(order["customer"]["id"], []).append(order)
        created = [epoch(o["created_at"]) for o in orders]
        by_email: dict[str, list[Row]] = {}
        for customer in customers:
            if customer.get("email"):
                by_email.setdefault(customer["email"].strip().lower(), []).append(customer)
        return cls(customers, {c["id"]: c for c in customers}, orders, created, {o["id"]: o for o in orders},
                   by_customer, max(created, default=0.0), by_email)


def index_of(state: SimulatorState) -> Index:
    cached = state.throttles.get(INDEX_KEY)
    if cached is None or cached[0] is not state.world:
        cached = (state.world, Index.of(state.world.shopify_customers, state.world.orders))
        state.throttles[INDEX_KEY] = cached
    index: Index = cached[1]
    return index


def forget_index(state: SimulatorState) -> None:
    state.throttles.pop(INDEX_KEY, None)


@dataclass
class ShopView:
    """What one request sees: the index and, without ``read_all_orders``, the oldest visible order."""

    state: SimulatorState
    index: Index
    since: float | None
    scopes: tuple[str, ...]

    @classmethod
    def of(cls, state: SimulatorState, scopes: frozenset[str] | None = None) -> ShopView:
        """``scopes``: the calling token's (an OAuth-issued one), within what the shop installed the app
        with (``config.shopify_scopes``); None: a pasted token, with the installation's scopes."""
        index = index_of(state)
        config = state.config
        installed = frozenset(config.shopify_scopes())
        granted = tuple(sorted(installed if scopes is None else scopes & installed))
        since = None
        if "read_all_orders" not in granted:
            now = epoch(config.shopify_now) if config.shopify_now else index.newest
            since = now - config.shopify_orders_window_days * 86_400
        return cls(state, index, since, granted)

    def visible(self, order: Row) -> bool:
        return self.since is None or epoch(order["created_at"]) >= self.since

    def order(self, row: Row) -> Row:
        shape = self.index.shapes.get(("Order", row["id"]))
        if shape is None:
            shape = self.index.shapes[("Order", row["id"])] = order_node(row)
        return shape

    def customer(self, row: Row) -> Row:
        shape = self.index.shapes.get(("Customer", row["id"]))
        if shape is None:
            shape = self.index.shapes[("Customer", row["id"])] = customer_node(row)
        return shape

    def all_orders(self) -> list[Row]:
        if self.since is None:
            return self.index.orders
        return self.index.orders[bisect_left(self.index.order_created, self.since):]


# --- shapes ------------------------------------------------------------------------------------

def gid(kind: str, row_id: int | str) -> str:
    return f"gid://shopify/{kind}/{row_id}"


def parse_gid(value: str) -> tuple[str, int] | None:
    prefix, _, rest = value.partition("gid://shopify/")
    kind, _, number = rest.partition("/")
    if prefix or not number.isdigit():
        return None
    return kind, int(number)


def decimal_text(amount: str | None) -> str:
    """Shopify's ``Decimal``: the exact value without trailing zeros, one decimal at least ("20.0")."""
    value = Decimal(amount or "0").normalize()
    text = f"{value:f}"
    return text if "." in text else f"{text}.0"


def money(amount: str | None, currency: str) -> dict[str, Any]:
    return {"amount": decimal_text(amount), "currencyCode": currency}


def money_bag(amount: str | None, currency: str) -> dict[str, Any]:
    return {"shopMoney": money(amount, currency), "presentmentMoney": money(amount, currency)}


@lru_cache(maxsize=65_536)  # pure, and the same stamps are rendered again and again
def utc(text: str | None) -> str | None:
    if not text:
        return None
    return datetime.fromtimestamp(epoch(text), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def customer_node(row: Row) -> Row:
    email = row.get("email")
    consent = row.get("email_marketing_consent") or {}
    state = str(consent.get("state") or "not_subscribed").upper()
    level = str(consent.get("opt_in_level") or "single_opt_in").upper()
    names = " ".join(n for n in (row.get("first_name"), row.get("last_name")) if n)
    tags = row.get("tags") or ""
    return {
        "__typename": "Customer", "_row": row, "id": gid("Customer", row["id"]), "legacyResourceId": str(row["id"]),
        "firstName": row.get("first_name"), "lastName": row.get("last_name"),
        "displayName": names or email or row.get("phone") or "",
        "email": email,
        "defaultEmailAddress": {"emailAddress": email, "marketingState": state, "marketingOptInLevel": level,
                                "marketingUpdatedAt": utc(consent.get("consent_updated_at"))} if email else None,
        "defaultPhoneNumber": ({"phoneNumber": row["phone"], "marketingState": "NOT_SUBSCRIBED"}
                               if row.get("phone") else None),
        "emailMarketingConsent": {"marketingState": state, "marketingOptInLevel": level,
                                  "consentUpdatedAt": utc(consent.get("consent_updated_at"))} if email else None,
        "numberOfOrders": str(row.get("orders_count") or 0),
        "amountSpent": money(row.get("total_spent"), row.get("currency") or "USD"),
        "createdAt": utc(row.get("created_at")), "updatedAt": utc(row.get("updated_at") or row.get("created_at")),
        "note": row.get("note"),
        "tags": sorted({t.strip() for t in tags.split(",") if t.strip()}) if isinstance(tags, str) else list(tags),
        "state": str(row.get("state") or "enabled").upper(),
        "canDelete": not row.get("orders_count"), "verifiedEmail": bool(row.get("verified_email")),
    }


def _visit(order: Row, landing: str, utm: bool) -> Row:
    params = parse_qs(urlsplit(landing).query) if utm else {}

    def first(name: str) -> str | None:
        values = params.get(f"utm_{name}")
        return values[0] if values else None

    utm_parameters = ({name: first(name) for name in ("campaign", "content", "medium", "source", "term")}
                      if any(k.startswith("utm_") for k in params) else None)
    return {"__typename": "CustomerVisit", "id": gid("CustomerVisit", order["id"] * (2 if utm else 3)),
            "landingPage": f"https://{SHOP_DOMAIN}{landing}", "landingPageHtml": None,
            "occurredAt": utc(order["created_at"]), "referrerUrl": None,
            "source": (first("source") or "direct") if utm else "direct", "utmParameters": utm_parameters}


def journey(order: Row) -> Row:
    landing = order.get("landing_site") or "/"
    single = order["id"] % 3 == 0
    converting = _visit(order, landing, utm=True)
    return {"customerOrderIndex": None, "daysToConversion": 0 if single else 2, "ready": True,
            "firstVisit": converting if single else _visit(order, "/", utm=False),
            "lastVisit": None if single else converting}


def order_node(row: Row) -> Row:
    currency = row.get("currency") or "USD"
    status = row.get("financial_status")
    return {
        "__typename": "Order", "_row": row, "id": gid("Order", row["id"]), "legacyResourceId": str(row["id"]),
        "name": row["name"], "email": row.get("email"),
        "createdAt": utc(row["created_at"]), "processedAt": utc(row.get("processed_at") or row["created_at"]),
        "updatedAt": utc(row.get("updated_at") or row["created_at"]), "currencyCode": currency,
        "displayFinancialStatus": status.upper() if status else None,
        "displayFulfillmentStatus": "FULFILLED" if row.get("fulfillment_status") == "fulfilled" else "UNFULFILLED",
        # An order without a total breaks the schema's promise (non-null): the answer says so with an error.
        "totalPriceSet": money_bag(row["total_price"], currency) if row.get("total_price") else None,
        "currentTotalPriceSet": money_bag(row["total_price"], currency) if row.get("total_price") else None,
        "subtotalPriceSet": money_bag(row.get("subtotal_price"), currency),
        "totalTaxSet": money_bag(row.get("total_tax"), currency),
        "cancelledAt": utc(row.get("cancelled_at")), "closedAt": utc(row.get("closed_at")),
        "closed": bool(row.get("closed_at")), "customerJourneySummary": journey(row),
    }


def line_item_node(order: Row, item: Row) -> Row:
    currency = order.get("currency") or "USD"
    return {"__typename": "LineItem", "id": gid("LineItem", item["id"]), "name": item["title"],
            "title": item["title"], "quantity": item["quantity"], "sku": item.get("sku"),
            "variantTitle": item.get("variant_title"),
            # An item without a price breaks the schema's promise: the answer says so with an error.
            "originalUnitPriceSet": money_bag(item["price"], currency) if item.get("price") else None,
            "discountedUnitPriceSet": money_bag(item["price"], currency) if item.get("price") else None}


def connection(window_rows: Iterable[Row], has_next: bool, has_previous: bool, shape: Callable[[Row], Row]) -> Row:
    rows = list(window_rows)
    nodes = [shape(r) for r in rows]
    cursors = [encode_cursor(r["id"]) for r in rows]
    return {"edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)], "nodes": nodes,
            "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_previous,
                         "startCursor": cursors[0] if cursors else None,
                         "endCursor": cursors[-1] if cursors else None}}
