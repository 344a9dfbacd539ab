"""Shopify connector over the GraphQL Admin API (2026-10 by default): customers and orders as records.

    store = ShopifyStore.from_settings(settings.sources.shopify)
    page = await store.list_orders(limit=50)                      # every status, oldest first
    more = await store.list_orders(limit=50, cursor=page.next_cursor)
    orders = await store.get_orders(["450789469", "450789470"])   # {id: ShopifyOrder}, one nodes(ids:) call
    pages = await store.orders_of_customers([(CustomerRef.by_id("6200000000"), 5, None), ...])
    await store.aclose()

Every read is one GraphQL document whose cost (``shopify_documents``) is asked of the pacer before it
is sent; batches and pages are cut so that no query costs more than Shopify allows
(``ShopifyAdmin.budget``), and cut again if Shopify prices one higher than we did. Many customers'
orders go in one document: first pages through ``nodes(ids:)``, customers known only by email through
an aliased ``customers(first: 1, query: "email:...")`` that brings their orders in the same call.
Documents that read orders also ask, every few minutes, for the app's access scopes: without
``read_all_orders`` Shopify shows only the last 60 days, and ``orders_window_days`` says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from harmonia.errors import UpstreamUnavailable
from harmonia.settings import ShopifySettings
from harmonia.sources import shopify_documents as docs
from harmonia.sources._http import SourceHttp, build_client
from harmonia.sources.records import OrderAttribution, OrderLineItems, Page, ShopifyCustomer, ShopifyOrder
from harmonia.sources.shared import SharedRedis
from harmonia.sources.shopify_admin import ERROR_PATHS, ShopifyAdmin, TooCostly, UnknownFields, auth_headers
from harmonia.sources.shopify_customers import customers_by_email
from harmonia.sources.shopify_fields import CUSTOMER, ORDER, Missing, Shape, can_do_without
from harmonia.sources.shopify_orders import CustomerRef, OrdersKey, orders_of_customers
from harmonia.sources.shopify_pacing import CostPacer, ThrottleStatus
from harmonia.sources.shopify_records import (
    decode_attribution,
    decode_customer,
    decode_items_record,
    gid,
    line_items_of,
    order_page,
)
from harmonia.sources.shopify_shared_pacing import SharedCostPacer

SOURCE = "shopify"
PAGE_MAX = 250           # Shopify's largest page and input array
SCOPES_TTL = 300.0       # seconds a learned scope list is trusted before a document asks again
ORDERS_WINDOW_DAYS = 60  # what Shopify shows without read_all_orders
T = TypeVar("T")

FAILED = object()  # a node Shopify answered an error for
log = logging.getLogger("harmonia.sources.shopify")
__all__ = ["CustomerRef", "OrdersKey", "ShopInfo", "ShopifyStore"]


@dataclass(frozen=True, slots=True)
class ShopInfo:
    name: str
    plan: str
    scopes: frozenset[str]


class ShopifyStore:
    """One shop's customers and orders; every method returns normalized records."""

    def __init__(self, admin: ShopifyAdmin) -> None:
        self.admin = admin
        self.http = admin.http
        self.api_version = admin.api_version
        self.scopes: frozenset[str] | None = None
        self._scopes_at = 0.0
        self.missing: Missing = frozenset()  # fields the shop said it does not have (shopify_fields)

    @classmethod
    def from_settings(cls, settings: ShopifySettings,
                      transport: httpx.AsyncBaseTransport | None = None) -> ShopifyStore:
        client = build_client(settings, transport=transport, headers={**auth_headers(settings),
                                                                      "Accept": "application/json"})
        http = SourceHttp(SOURCE, client, max_retries=settings.max_retries)
        pacer = CostPacer(settings.maximum_available, settings.restore_rate)
        return cls(ShopifyAdmin(http, settings.api_version, pacer))

    async def aclose(self) -> None:
        await self.http.aclose()

    def share_pacing(self, shared: SharedRedis, account: str) -> None:
        """Keep the cost bucket in Redis, shared by every instance serving this shop (``discipline``)."""
        local = self.admin.pacer.local if isinstance(self.admin.pacer, SharedCostPacer) else self.admin.pacer
        assert isinstance(local, CostPacer)
        self.admin.pacer = SharedCostPacer(shared, f"shopify:{account}", local=local,
                                           lease_seconds=self.http.attempt_timeout + 5.0)

    @property
    def order_fields(self) -> Shape:
        return ORDER.shape(self.missing)

    @property
    def customer_fields(self) -> Shape:
        return CUSTOMER.shape(self.missing)

    async def run(self, build: Callable[[], tuple[str, Mapping[str, Any] | None, float]], *,
                  write: bool = False) -> dict[str, Any]:
        """``build()``'s document asked of the shop; a field it says it does not have is left out from then
        on and the document built and asked again (see ``shopify_fields``)."""
        while True:
            document, variables, cost = build()
            try:
                return await self.admin.run(document, variables, cost, write=write)
            except UnknownFields as unknown:
                if unknown.fields <= self.missing or not can_do_without(unknown.fields):
                    raise UpstreamUnavailable(SOURCE, "shopify does not have a field Harmonia needs: check "
                                              "sources.shopify.api_version") from None
                log.warning("shopify has no %s: reading on without it", sorted(unknown.fields))
                self.missing = self.missing | unknown.fields

    # --- orders ------------------------------------------------------------------------------

    async def list_orders(self, limit: int, cursor: str | None = None) -> Page[ShopifyOrder]:
        scopes = self._scopes_due()
        fit = int((self.admin.budget() - 2 - docs.SCOPES_COST) // self.order_fields.cost)
        first = max(1, min(limit, PAGE_MAX, fit))

        def build() -> tuple[str, Mapping[str, Any], float]:
            document, cost = docs.orders_page(self.order_fields, first, scopes)
            return document, {"first": first, "after": cursor}, cost

        while True:
            try:
                data = await self.run(build)
            except TooCostly:
                if first == 1:
                    raise UpstreamUnavailable(SOURCE, "one shopify order costs more than a query may") from None
                first = max(1, first // 2)
                continue
            self._learn_scopes(data)
            orders, after = order_page(data.get("orders"))
            return Page(items=orders, next_cursor=after)

    async def all_orders(self, page_size: int = PAGE_MAX) -> list[ShopifyOrder]:
        seen: dict[str, ShopifyOrder] = {}
        cursor: str | None = None
        while True:
            page = await self.list_orders(page_size, cursor)
            for order in page.items:
                seen.setdefault(order.id, order)
            if page.next_cursor is None:
                return list(seen.values())
            cursor = page.next_cursor

    async def get_orders(self, ids: Sequence[str]) -> dict[str, ShopifyOrder]:
        nodes = _whole(await self._by_ids("Order", lambda: self.order_fields, ids, scopes=True))
        return {o.id: o for o in (order_page({"nodes": list(nodes.values())})[0])}

    async def count_orders(self) -> int:
        document, cost = docs.order_count(self._scopes_due())
        data = await self.run(lambda: (document, None, cost))
        self._learn_scopes(data)
        count = (data.get("ordersCount") or {}).get("count")
        if not isinstance(count, int):
            raise UpstreamUnavailable(SOURCE, "shopify sent an unreadable order count")
        return count

    async def orders_of_customers(self, keys: Sequence[OrdersKey]) -> dict[OrdersKey, Page[ShopifyOrder]]:
        """A page of orders for each (customer, page size, cursor), in as few calls as the cost allows."""
        return await orders_of_customers(self, keys)

    async def customer_orders(self, customer_id: str, limit: int,
                              cursor: str | None = None) -> Page[ShopifyOrder]:
        key = (CustomerRef.by_id(customer_id), limit, cursor)
        return (await self.orders_of_customers([key]))[key]

    async def order_attribution(self, ids: Sequence[str]) -> dict[str, OrderAttribution]:
        nodes = _whole(await self._by_ids("Order", lambda: Shape(docs.ATTRIBUTION, docs.ATTRIBUTION_COST), ids))
        return {a.order_id: a for a in map(decode_attribution, nodes.values()) if a is not None}

    async def order_line_items(self, ids: Sequence[str]) -> dict[str, OrderLineItems]:
        """Each order's products; an order Shopify answered with an error for is marked unreadable
        (its ``lineItems`` field fails, its siblings' do not)."""
        nodes = await self._by_ids("Order", lambda: docs.LINE_ITEMS, ids, document=docs.line_items)
        found: dict[str, OrderLineItems] = {}
        for order_id, node in nodes.items():
            if node is FAILED:
                found[order_id] = OrderLineItems(order_id, (), readable=False)
                continue
            try:
                items, more = line_items_of(node)
                while more is not None:  # the rare order with more items than the first page holds
                    document, cost = docs.more_line_items()
                    variables = {"id": gid("Order", order_id), "after": more}
                    data = await self.run(lambda: (document, variables, cost))  # noqa: B023 - awaited at once
                    rest, more = line_items_of(data.get("order") or {})
                    items += rest
            except UpstreamUnavailable:
                found[order_id] = OrderLineItems(order_id, (), readable=False)
                continue
            found[order_id] = decode_items_record(order_id, items)
        return found

    # --- customers ---------------------------------------------------------------------------

    async def list_customers(self, limit: int, cursor: str | None = None) -> Page[ShopifyCustomer]:
        first = max(1, min(limit, PAGE_MAX, int((self.admin.budget() - 2) // self.customer_fields.cost)))

        def build() -> tuple[str, Mapping[str, Any], float]:
            document, cost = docs.customers_page(self.customer_fields, first)
            return document, {"first": first, "after": cursor}, cost

        data = await self.run(build)
        connection = data.get("customers") or {}
        nodes = [e.get("node") for e in connection.get("edges") or [] if isinstance(e, dict)]
        info = connection.get("pageInfo") or {}
        return Page(items=[c for c in map(decode_customer, nodes) if c is not None],
                    next_cursor=info.get("endCursor") if info.get("hasNextPage") else None)

    async def get_customers(self, ids: Sequence[str]) -> dict[str, ShopifyCustomer]:
        nodes = _whole(await self._by_ids("Customer", lambda: self.customer_fields, ids))
        return {c.id: c for c in map(decode_customer, nodes.values()) if c is not None}

    async def find_customers_by_email(self, emails: Sequence[str]) -> dict[str, ShopifyCustomer | None]:
        """Each address's customer (exact, normalized match), all in one aliased query where they fit."""
        return await customers_by_email(self, emails)

    async def find_customer_by_email(self, email: str) -> ShopifyCustomer | None:
        return (await self.find_customers_by_email([email])).get(email)

    # --- the shop ----------------------------------------------------------------------------

    async def shop(self) -> ShopInfo:
        """The shop's name and plan and the app's scopes: one cheap call (``harmonia doctor``)."""
        data = await self.run(lambda: (docs.SHOP, None, docs.SHOP_COST))
        self._learn_scopes(data)
        shop = data.get("shop") or {}
        return ShopInfo(name=str(shop.get("name") or ""), plan=str((shop.get("plan") or {}).get("displayName") or ""),
                        scopes=self.scopes or frozenset())

    async def access_scopes(self) -> frozenset[str]:
        return (await self.shop()).scopes

    def throttle_status(self) -> ThrottleStatus | None:
        """What the last answer said of the bucket (quota headroom), None before any answer."""
        return self.admin.last_status

    def orders_window_days(self) -> int | None:
        """60 when the token lacks ``read_all_orders`` (older orders are invisible), else None."""
        if self.scopes is None or "read_all_orders" in self.scopes:
            return None
        return ORDERS_WINDOW_DAYS

    # --- shared machinery ----------------------------------------------------------------------

    def _scopes_due(self) -> bool:
        return self.scopes is None or time.monotonic() - self._scopes_at > SCOPES_TTL

    def _learn_scopes(self, data: dict[str, Any]) -> None:
        installation = data.get("harmoniaScopes") or data.get("currentAppInstallation")
        scopes = installation.get("accessScopes") if isinstance(installation, dict) else None
        if isinstance(scopes, list):
            self.scopes = frozenset(str(s.get("handle")) for s in scopes if isinstance(s, dict))
            self._scopes_at = time.monotonic()

    async def _by_ids(self, kind: str, fields: Callable[[], Shape], ids: Sequence[str], *, scopes: bool = False,
                      document: Callable[[int], tuple[str, int]] | None = None) -> dict[str, Any]:
        """``nodes(ids:)`` in as many calls as cost and Shopify's 250-item inputs need: each id found with
        its node, or ``FAILED`` where Shopify answered an error for it instead."""
        wanted = list(dict.fromkeys(i for i in ids if i.isdigit()))
        with_scopes = scopes and self._scopes_due()
        size = max(1, min(PAGE_MAX, int((self.admin.budget() - docs.SCOPES_COST) // fields().cost)))

        async def fetch(chunk: list[str]) -> list[tuple[str, Any]]:
            def build() -> tuple[str, Mapping[str, Any], float]:
                shape = fields()
                text, cost = document(len(chunk)) if document else docs.by_ids(kind, shape.text, shape.cost,
                                                                                    len(chunk), with_scopes)
                return text, {"ids": [gid(kind, i) for i in chunk]}, cost

            data = await self.run(build)
            self._learn_scopes(data)
            nodes = data.get("nodes")
            nodes = nodes if isinstance(nodes, list) and len(nodes) == len(chunk) else [None] * len(chunk)
            failed = {path[1] for path in data.get(ERROR_PATHS, ()) if len(path) > 1 and path[0] == "nodes"}
            return [(i, FAILED if at in failed else node) for at, (i, node) in enumerate(zip(chunk, nodes,
                                                                                             strict=True))
                    if isinstance(node, dict) or at in failed]

        chunks = [wanted[at:at + size] for at in range(0, len(wanted), size)]
        found = await asyncio.gather(*(_halving(fetch, chunk) for chunk in chunks))
        return {i: node for part in found for i, node in part}


def _whole(nodes: dict[str, Any]) -> dict[str, Any]:
    """The nodes, or UPSTREAM_UNAVAILABLE when Shopify answered an error for any of them: a record
    missing from the answer must not read as a record that does not exist."""
    if any(node is FAILED for node in nodes.values()):
        raise UpstreamUnavailable(SOURCE, "shopify answered an error for some of the records asked for")
    return nodes


async def _halving(fetch: Callable[[list[str]], Awaitable[list[T]]], chunk: list[str]) -> list[T]:
    """``fetch(chunk)``, or its two halves when Shopify says the whole costs more than a query may."""
    try:
        return await fetch(chunk)
    except TooCostly:
        if len(chunk) == 1:
            raise UpstreamUnavailable(SOURCE, "one shopify record costs more than a query may") from None
        half = len(chunk) // 2
        return [*await _halving(fetch, chunk[:half]), *await _halving(fetch, chunk[half:])]

