"""Shopify Admin REST connector: customers and orders as normalized records.

    store = ShopifyStore.from_settings(settings.sources.shopify)
    page = await store.list_orders(limit=50)              # every status: open, closed, cancelled
    more = await store.list_orders(limit=50, page_info=page.next_cursor)
    orders = await store.get_orders(["450789469", "450789470"])   # {id: ShopifyOrder}
    await store.aclose()

Shopify's quirks handled here: orders default to ``status=open`` so every orders request sends
``status=any`` (except ``page_info`` follow-ups, where Shopify freezes the first request's filters
into the cursor and rejects any other parameter); cursors come in the ``Link`` header; money is
string-encoded; timestamps carry the shop's offset; ``utm_campaign`` hides in ``landing_site``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from harmonia.errors import UpstreamUnavailable
from harmonia.settings import ShopifySettings
from harmonia.sources._http import SourceHttp, build_client, read_json
from harmonia.sources.normalize import (
    MEMO_SIZE,
    normalize_datetime,
    normalize_email,
    normalize_money,
    normalize_phone,
)
from harmonia.sources.pacing import LeakyBucketPacer
from harmonia.sources.records import LineItem, Page, ShopifyCustomer, ShopifyOrder, WireValue, direct_constructor

SOURCE = "shopify"
# The official client's rule (shopify-api-js RestClient): split on ", ", then this regex.
_LINK = re.compile(r'<([^<]+)>; rel="([^"]+)"')


def next_page_info(link_header: str | None) -> str | None:
    """The ``page_info`` of the ``rel="next"`` link, or None on the last page."""
    for part in (link_header or "").split(", "):
        match = _LINK.search(part)
        if match and match.group(2) == "next":
            values = parse_qs(urlsplit(match.group(1)).query).get("page_info")
            if values:
                return values[0]
    return None


@lru_cache(maxsize=MEMO_SIZE)  # pure, and landing URLs repeat across orders (one per campaign link)
def utm_campaign(landing_site: str | None) -> str | None:
    """``utm_campaign`` from a landing URL's query, URL-decoded with ``+`` as a space."""
    if not landing_site or "?" not in landing_site:
        return None
    values = parse_qs(urlsplit(landing_site).query).get("utm_campaign")
    return values[0] if values else None


# What ``_order`` and ``_customer`` read, asked for with Shopify's ``fields``: a real order carries
# dozens more top-level fields (addresses, shipping and tax lines, fulfillments, refunds...), and
# every one of them would be sent, parsed and dropped.
ORDER_FIELDS = ("id,name,email,created_at,currency,total_price,financial_status,customer,line_items,"
                "landing_site,cancelled_at,closed_at")
CUSTOMER_FIELDS = ("id,email,first_name,last_name,phone,orders_count,total_spent,currency,created_at,"
                   "email_marketing_consent")


class ShopifyStore:
    """One shop's customers and orders; every method returns normalized records."""

    BATCH_MAX = 250  # Shopify's maximum ``limit``: one ids= chunk answers in one page

    def __init__(self, http: SourceHttp, api_version: str = "2024-04") -> None:
        self.http = http
        self.api_version = api_version

    @classmethod
    def from_settings(
        cls, settings: ShopifySettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> ShopifyStore:
        client = build_client(settings, transport=transport, headers={
            "X-Shopify-Access-Token": settings.token, "Accept": "application/json"})
        pacer = LeakyBucketPacer(settings.bucket_size, settings.leak_per_second)
        http = SourceHttp(SOURCE, client, pacer=pacer, max_retries=settings.max_retries)
        return cls(http, settings.api_version)

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- orders ---------------------------------------------------------------------------

    async def list_orders(self, limit: int, page_info: str | None = None) -> Page[ShopifyOrder]:
        return await self._order_page("orders.json", limit, page_info)

    async def all_orders(self, page_size: int = 250) -> list[ShopifyOrder]:
        seen: dict[str, ShopifyOrder] = {}
        cursor: str | None = None
        while True:
            page = await self.list_orders(page_size, cursor)
            for order in page.items:
                seen.setdefault(order.id, order)
            cursor = page.next_cursor
            if cursor is None:
                return list(seen.values())

    async def get_orders(self, ids: Sequence[str]) -> dict[str, ShopifyOrder]:
        found = await self._batch("orders.json", "orders", ids, {"status": "any", "fields": ORDER_FIELDS})
        return {str(raw["id"]): _order(raw) for raw in found}

    async def get_order(self, order_id: str) -> ShopifyOrder | None:
        if not order_id.isdigit():
            return None  # Shopify ids are integers; anything else cannot exist there
        body = await self._get(f"orders/{order_id}.json", {"status": "any", "fields": ORDER_FIELDS})
        return _order(body["order"]) if body is not None else None

    async def count_orders(self) -> int:
        body = await self._get("orders/count.json", {"status": "any"})
        if body is None or not isinstance(body.get("count"), int):
            raise UpstreamUnavailable(SOURCE, "shopify sent an unreadable order count")
        count: int = body["count"]
        return count

    async def customer_orders(
        self, customer_id: str, limit: int, page_info: str | None = None
    ) -> Page[ShopifyOrder]:
        if not customer_id.isdigit():
            return Page(items=[], next_cursor=None)
        return await self._order_page(f"customers/{customer_id}/orders.json", limit, page_info)

    # --- customers ------------------------------------------------------------------------

    async def list_customers(self, limit: int, page_info: str | None = None) -> Page[ShopifyCustomer]:
        body, cursor = await self._page("customers.json", limit, page_info, {}, CUSTOMER_FIELDS)
        return Page(items=[_customer(raw) for raw in _list(body, "customers")], next_cursor=cursor)

    async def get_customers(self, ids: Sequence[str]) -> dict[str, ShopifyCustomer]:
        found = await self._batch("customers.json", "customers", ids, {"fields": CUSTOMER_FIELDS})
        return {str(raw["id"]): _customer(raw) for raw in found}

    async def find_customer_by_email(self, email: str) -> ShopifyCustomer | None:
        wanted = normalize_email(email)
        if wanted is None:
            return None
        body = await self._get("customers/search.json", {"query": f"email:{wanted}", "limit": 50,
                                                         "fields": CUSTOMER_FIELDS})
        # Search is full-text on Shopify's side: keep only the exact (normalized) address.
        for raw in _list(body, "customers"):
            if normalize_email(raw.get("email")) == wanted:
                return _customer(raw)
        return None

    # --- wire -----------------------------------------------------------------------------

    def _path(self, resource: str) -> str:
        return f"/admin/api/{self.api_version}/{resource}"

    async def _get(self, resource: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
        body, _ = await self._get_with_headers(resource, params)
        return body

    async def _get_with_headers(
        self, resource: str, params: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, httpx.Headers]:
        response = await self.http.request("GET", self._path(resource), params=params)
        if response.status_code == 404:
            return None, response.headers
        try:
            body = read_json(response)
        except ValueError:
            raise UpstreamUnavailable(SOURCE, "shopify sent a body that is not JSON") from None
        if not isinstance(body, dict):
            raise UpstreamUnavailable(SOURCE, "shopify sent an unexpected body")
        return body, response.headers

    async def _page(
        self, resource: str, limit: int, page_info: str | None, filters: Mapping[str, Any], fields: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        limit = max(1, min(self.BATCH_MAX, limit))
        # A follow-up may carry only page_info, limit and fields: the filters already live in the cursor.
        params = ({"limit": limit, "page_info": page_info, "fields": fields} if page_info
                  else {"limit": limit, **filters, "fields": fields})
        body, headers = await self._get_with_headers(resource, params)
        return body, next_page_info(headers.get("Link"))

    async def _order_page(self, resource: str, limit: int, page_info: str | None) -> Page[ShopifyOrder]:
        body, cursor = await self._page(resource, limit, page_info, {"status": "any"}, ORDER_FIELDS)
        return Page(items=[_order(raw) for raw in _list(body, "orders")], next_cursor=cursor)

    async def _batch(
        self, resource: str, key: str, ids: Sequence[str], filters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(i for i in ids if i.isdigit()))
        chunks = [wanted[at:at + self.BATCH_MAX] for at in range(0, len(wanted), self.BATCH_MAX)]
        bodies = await asyncio.gather(*(
            self._get(resource, {"ids": ",".join(chunk), "limit": self.BATCH_MAX, **filters})
            for chunk in chunks))
        return [raw for body in bodies for raw in _list(body, key)]


# --- records ----------------------------------------------------------------------------

def _list(body: Mapping[str, Any] | None, key: str) -> list[dict[str, Any]]:
    if body is None:
        return []
    items = body.get(key)
    if not isinstance(items, list):
        raise UpstreamUnavailable(SOURCE, f"shopify sent no {key} list")
    return [item for item in items if isinstance(item, dict) and item.get("id") is not None]


def _customer(raw: Mapping[str, Any]) -> ShopifyCustomer:
    consent = raw.get("email_marketing_consent") or {}
    orders_count = raw.get("orders_count")
    return ShopifyCustomer(
        id=str(raw["id"]),
        email=normalize_email(raw.get("email")),
        first_name=raw.get("first_name"),
        last_name=raw.get("last_name"),
        phone=normalize_phone(raw.get("phone")),
        orders_count=int(orders_count) if orders_count is not None else None,
        total_spent=normalize_money(raw.get("total_spent"), raw.get("currency")),
        created_at=normalize_datetime(raw.get("created_at")),
        email_marketing_state=consent.get("state") if isinstance(consent, dict) else None,
    )


_new_order = direct_constructor(ShopifyOrder)


def _order(raw: Mapping[str, Any]) -> ShopifyOrder:
    currency = raw.get("currency")
    total = normalize_money(raw.get("total_price"), currency)
    created_at = normalize_datetime(raw.get("created_at"))
    if total is None or created_at is None:
        raise UpstreamUnavailable(SOURCE, "shopify sent an order without a total or a creation date")
    customer = raw.get("customer")
    return _new_order(
        id=str(raw["id"]),
        name=str(raw.get("name") or ""),
        created_at=created_at,
        total_price=total,
        financial_status=raw.get("financial_status"),
        customer_id=str(customer["id"]) if isinstance(customer, dict) and customer.get("id") else None,
        email=normalize_email(raw.get("email")),
        line_items_wire=_line_items_wire(raw.get("line_items"), currency),
        utm_campaign=utm_campaign(raw.get("landing_site")),
        cancelled_at=normalize_datetime(raw.get("cancelled_at")),
        closed_at=normalize_datetime(raw.get("closed_at")),
    )


_PLAIN = frozenset((str, int, float, bool, type(None)))
_MALFORMED: tuple[WireValue, ...] = (None, None, None, None)  # no price: decoding it fails


def _line_items_wire(items: Any, order_currency: Any) -> tuple[WireValue, ...]:
    """The line items' values, flat and not yet read: most queries never ask for them (``line_items`` reads
    them). An item that is not a dict or has a non-scalar value is kept as one without a price."""
    if not items:
        return ()
    if not isinstance(items, list):
        return _MALFORMED
    wire: list[WireValue] = []
    for raw in items:
        if type(raw) is not dict:
            wire += _MALFORMED
            continue
        shop_money = raw.get("price_set")
        if type(shop_money) is dict:
            shop_money = shop_money.get("shop_money")
        if type(shop_money) is dict:
            currency = shop_money.get("currency_code") or order_currency
            price = raw.get("price", shop_money.get("amount"))
        else:
            currency, price = order_currency, raw.get("price")
        title, quantity = raw.get("title"), raw.get("quantity")
        if type(title) in _PLAIN and type(quantity) in _PLAIN and type(price) in _PLAIN and type(currency) in _PLAIN:
            wire += (title, quantity, price, currency)
        else:
            wire += _MALFORMED
    return tuple(wire)


def line_items(order: ShopifyOrder) -> tuple[LineItem, ...]:
    """The order's line items, decoded from ``line_items_wire`` on first use and kept on the record.

    Raises UpstreamUnavailable for an item without a readable price or quantity: only the queries
    that ask for line items see it (as a field error), not every reader of the order.
    """
    decoded: tuple[LineItem, ...] | None = getattr(order, "_decoded", None)
    if decoded is None:
        values = iter(order.line_items_wire)
        decoded = tuple([_line_item(title, quantity, price, currency)
                         for title, quantity, price, currency in zip(values, values, values, values, strict=True)])
        object.__setattr__(order, "_decoded", decoded)  # the record is immutable: so is what it decodes to
    return decoded


# Pure, and a shop's products repeat across orders: one frozen LineItem serves them all, as Money
# does. typed: True, 1 and 1.0 are equal keys but not the same title.
@lru_cache(maxsize=MEMO_SIZE, typed=True)
def _line_item(title: WireValue, quantity: WireValue, price: WireValue, currency: WireValue) -> LineItem:
    money = normalize_money(price, currency) if isinstance(currency, str) else None
    if money is None:
        raise UpstreamUnavailable(SOURCE, "shopify sent a line item without a price")
    try:
        count = int(quantity or 0)
    except ValueError:
        raise UpstreamUnavailable(SOURCE, "shopify sent a line item with an unreadable quantity") from None
    return LineItem(title=str(title or ""), quantity=count, price=money)
