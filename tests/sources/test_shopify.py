"""The Shopify connector against the simulator: every order, batching, pacing, normalization."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from harmonia.errors import UpstreamAuthFailed, UpstreamUnavailable
from harmonia.settings import DEMO_CREDENTIALS, ShopifySettings
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.shopify import BUCKET_KEY
from harmonia.sources.pacing import LeakyBucketPacer
from harmonia.sources.records import LineItem, Money
from harmonia.sources.shopify import (
    ORDER_FIELDS,
    ShopifyStore,
    _customer,
    _order,
    line_items,
    next_page_info,
    utm_campaign,
)

BASE = "http://simulators/shopify"
ORDERS_ROUTE = "GET /admin/api/{version}/orders.json"


def _status(order: dict[str, object]) -> str:
    return "cancelled" if order["cancelled_at"] else "closed" if order["closed_at"] else "open"


@pytest.fixture
async def store(transport: httpx.ASGITransport) -> AsyncIterator[ShopifyStore]:
    store = ShopifyStore.from_settings(ShopifySettings(base_url=BASE), transport=transport)
    yield store
    await store.aclose()


async def _route_count(sim_client: httpx.AsyncClient, route: str) -> int:
    stats = (await sim_client.get("/__stats")).json()
    return int(stats["shopify"]["by_route"].get(route, 0))


async def test_paging_to_the_end_returns_every_order_once_whatever_its_status(
    store: ShopifyStore, world: World
) -> None:
    orders = await store.all_orders(page_size=250)
    assert len(orders) == len(world.orders)
    assert [o.id for o in orders] == [str(o["id"]) for o in world.orders]
    assert any(o.cancelled_at for o in orders) and any(o.closed_at for o in orders)


async def test_list_orders_follows_the_link_cursor(store: ShopifyStore, world: World) -> None:
    first = await store.list_orders(limit=20)
    second = await store.list_orders(limit=20, page_info=first.next_cursor)
    assert first.next_cursor is not None
    assert [o.id for o in first.items + second.items] == [str(o["id"]) for o in world.orders[:40]]


async def test_six_hundred_ids_take_three_calls_and_duplicates_none(
    store: ShopifyStore, world: World, sim_client: httpx.AsyncClient
) -> None:
    ids = [str(o["id"]) for o in world.orders[:600]]
    found = await store.get_orders(ids + ids[:50] + ["1"])
    assert await _route_count(sim_client, ORDERS_ROUTE) == 3
    assert sorted(found) == sorted(ids)
    closed = next(o for o in world.orders[:600] if _status(o) == "closed")
    assert found[str(closed["id"])].closed_at is not None


class InFlight(httpx.AsyncBaseTransport):
    """The real transport, counting how many requests it carries at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.now, self.peak = inner, 0, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1


async def test_batch_chunks_are_fetched_concurrently(
    transport: httpx.ASGITransport, world: World, sim_state: SimulatorState
) -> None:
    sim_state.config.latency_ms = 50  # each chunk waits upstream, so overlapping chunks are in flight together
    counting = InFlight(transport)
    store = ShopifyStore.from_settings(ShopifySettings(base_url=BASE), transport=counting)
    try:
        found = await store.get_orders([str(o["id"]) for o in world.orders[:750]])
    finally:
        await store.aclose()

    assert len(found) == 750
    assert counting.peak == 3  # three chunks of 250, all in flight at once


async def test_customers_in_batches_with_normalized_contact_data(
    store: ShopifyStore, world: World, sim_client: httpx.AsyncClient
) -> None:
    wanted = [str(c["id"]) for c in world.shopify_customers[:300]]
    found = await store.get_customers(wanted)
    assert await _route_count(sim_client, "GET /admin/api/{version}/customers.json") == 2
    assert sorted(found) == sorted(wanted)
    first = found["6200000000"]  # seeded as "LEON.HAMILTON0@SHOP.EXAMPLE.NET", "+1 429 845 2013"
    assert first.email == "leon.hamilton0@shop.example.net"
    assert first.phone == "+14298452013"
    assert first.created_at == "2024-06-17T04:45:00Z"  # from 2024-06-16T23:45:00-05:00
    assert first.email_marketing_state == "subscribed"
    assert first.total_spent == Money("297.53", "USD")


async def test_customer_orders_are_exactly_theirs_in_every_status(store: ShopifyStore, world: World) -> None:
    counts = Counter(o["customer"]["id"] for o in world.orders if o["customer"])
    customer_id = counts.most_common(1)[0][0]
    theirs = world.customer_orders(customer_id)
    assert {_status(o) for o in theirs} != {"open"}  # the case status=any exists for
    got, cursor = [], None
    while True:
        page = await store.customer_orders(str(customer_id), limit=2, page_info=cursor)
        got += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert [o.id for o in got] == [str(o["id"]) for o in theirs]
    assert {o.customer_id for o in got} == {str(customer_id)}


async def test_single_order_count_and_missing_order(store: ShopifyStore, world: World) -> None:
    cancelled = next(o for o in world.orders if _status(o) == "cancelled")
    order = await store.get_order(str(cancelled["id"]))
    assert order is not None and order.cancelled_at is not None
    assert await store.get_order("1") is None
    assert await store.count_orders() == len(world.orders)


async def test_money_stays_exact_strings(store: ShopifyStore, world: World) -> None:
    raw = world.orders[0]
    order = await store.get_order(str(raw["id"]))
    assert order is not None
    assert order.total_price == Money("337.93", "USD")
    assert [(i.title, i.quantity, i.price.amount) for i in line_items(order)] == [
        ("Daypack 20L", 2, "74.50"), ("Compression Sleeves", 1, "29.90"), ("Yoga Mat", 2, "42.00"),
        ("Gift Card", 2, "25.00")]


def _raw_order(*items: object, currency: object = "USD") -> dict[str, object]:
    return {"id": 1, "name": "#1001", "created_at": "2024-05-01T10:15:00Z", "total_price": "10.00",
            "currency": currency, "line_items": list(items)}


def test_line_items_are_decoded_when_asked_and_once() -> None:
    order = _order(_raw_order(
        {"title": "Mug", "quantity": 2, "price": "9.5", "price_set": {"shop_money": {"amount": "9.5",
                                                                                    "currency_code": "usd"}}},
        {"title": "Cap", "quantity": "3", "price_set": {"shop_money": {"amount": "12"}}},  # no price: shop money's
        {"title": None, "quantity": None, "price": 4},  # no price set: the order's currency
    ))

    decoded = line_items(order)

    assert decoded == (LineItem("Mug", 2, Money("9.50", "USD")), LineItem("Cap", 3, Money("12.00", "USD")),
                       LineItem("", 0, Money("4.00", "USD")))
    assert line_items(order) is decoded
    # Items are shared between orders (memoized), but never across value types: True == 1 == 1.0.
    typed = dataclasses.replace(order, line_items_wire=(1, 1, "1.00", "USD", True, 1, "1.00", "USD",
                                                         1.0, 1, "1.00", "USD"))
    assert [item.title for item in line_items(typed)] == ["1", "True", "1.0"]
    assert _order(_raw_order()).line_items_wire == () and line_items(_order(_raw_order())) == ()


@pytest.mark.parametrize("item", [
    {"title": "Mug", "quantity": 1},                                             # no price anywhere
    {"title": "Mug", "quantity": 1, "price": None, "price_set": {"shop_money": {"amount": "9.50"}}},
    {"title": "Mug", "quantity": 1, "price": "n/a"},
    {"title": "Mug", "quantity": "two", "price": "9.50"},
    {"title": "Mug", "quantity": 1, "price": {"amount": "9.50"}},                # not a JSON scalar
    {"title": "Mug", "quantity": 1, "price": "9.50", "price_set": {"shop_money": {"currency_code": 840}}},
    "Mug",
])
def test_an_unreadable_line_item_fails_only_its_line_items(item: object) -> None:
    order = _order(_raw_order({"title": "Fine", "quantity": 1, "price": "1.00"}, item))

    assert order.total_price == Money("10.00", "USD")  # the order itself reads fine
    with pytest.raises(UpstreamUnavailable):
        line_items(order)


def test_a_line_item_without_a_currency_is_unreadable() -> None:
    order = dataclasses.replace(_order(_raw_order()), line_items_wire=("Mug", 1, "1.00", None))

    with pytest.raises(UpstreamUnavailable):
        line_items(order)


@pytest.mark.parametrize(("order_id", "expected"), [
    ("450790562", "2023-01-11T02:09:00Z"),  # seeded as 2023-01-10T21:09:00-05:00: crosses midnight
    ("450789568", "2023-01-01T16:06:00Z"),  # seeded as 2023-01-01T17:06:00+01:00
])
async def test_offset_timestamps_become_utc_z(store: ShopifyStore, order_id: str, expected: str) -> None:
    order = await store.get_order(order_id)
    assert order is not None and order.created_at == expected


async def test_utm_campaign_is_read_from_the_landing_site(store: ShopifyStore, world: World) -> None:
    order = await store.get_order(str(world.orders[0]["id"]))  # ...&utm_campaign=Performance+Max+-+Outdoor
    assert order is not None and order.utm_campaign == "Performance Max - Outdoor"
    plain = next(o for o in world.orders if "utm_campaign" not in o["landing_site"])
    untagged = await store.get_order(str(plain["id"]))
    assert untagged is not None and untagged.utm_campaign is None


@pytest.mark.parametrize(("landing", "expected"), [
    ("/p?utm_campaign=Spring+sale+2024", "Spring sale 2024"),
    ("/p?utm_source=x&utm_campaign=Spring%20sale%202024&x=1", "Spring sale 2024"),
    ("https://shop.example.com/p?utm_campaign=Runner%27s+guide", "Runner's guide"),
    ("/collections/all", None),
    ("/p?utm_campaign=", None),
    (None, None),
])
def test_utm_campaign_decoding(landing: str | None, expected: str | None) -> None:
    assert utm_campaign(landing) == expected


async def test_find_customer_by_messy_email(store: ShopifyStore, world: World) -> None:
    raw = next(c for c in world.shopify_customers if c["email"] != c["email"].strip().lower())
    found = await store.find_customer_by_email(f"  {raw['email'].strip().upper()} ")
    assert found is not None and found.id == str(raw["id"])
    assert await store.find_customer_by_email("nobody@nowhere.example") is None


async def test_list_customers_pages_through(store: ShopifyStore, world: World) -> None:
    first = await store.list_customers(limit=3)
    second = await store.list_customers(limit=3, page_info=first.next_cursor)
    assert [c.id for c in first.items + second.items] == [str(c["id"]) for c in world.shopify_customers[:6]]


async def test_wrong_token_is_an_auth_failure(transport: httpx.ASGITransport) -> None:
    settings = ShopifySettings(base_url=BASE, token="shpat_wrong")
    store = ShopifyStore.from_settings(settings, transport=transport)
    with pytest.raises(UpstreamAuthFailed):
        await store.list_orders(limit=5)
    await store.aclose()


async def test_429_waits_for_retry_after_then_succeeds(
    store: ShopifyStore, world: World, sim_state: SimulatorState, sim_client: httpx.AsyncClient
) -> None:
    bucket = sim_state.throttles[BUCKET_KEY]
    # Draining 0.5/s: the first call is refused unless it stalls 2 s, and the retry 2 s later gets in.
    bucket.leak_per_second = 0.5
    bucket.fill(DEMO_CREDENTIALS["shopify_token"], 40)
    started = time.monotonic()
    assert await store.count_orders() == len(world.orders)
    assert time.monotonic() - started >= 1.9  # Retry-After: 2.0
    assert await _route_count(sim_client, "GET /admin/api/{version}/orders/count.json") == 2


async def test_pacer_follows_the_call_limit_header_and_avoids_429(
    store: ShopifyStore, sim_state: SimulatorState, sim_client: httpx.AsyncClient
) -> None:
    # Another app has nearly filled the shop's bucket: only the header tells us.
    sim_state.throttles[BUCKET_KEY].fill(DEMO_CREDENTIALS["shopify_token"], 37)
    started = time.monotonic()
    for _ in range(4):
        await store.count_orders()
    assert await _route_count(sim_client, "GET /admin/api/{version}/orders/count.json") == 4  # no 429 retry
    assert time.monotonic() - started >= 1.0  # the pacer waited for the bucket to leak


async def test_pacer_adopts_the_bucket_size_shopify_reports(
    store: ShopifyStore, sim_state: SimulatorState
) -> None:
    sim_state.throttles[BUCKET_KEY].size = 80  # a Plus shop
    await store.count_orders()
    pacer = store.http.pacer
    assert isinstance(pacer, LeakyBucketPacer) and pacer.size == 80


async def test_another_api_version_is_used_in_every_path(
    transport: httpx.ASGITransport, sim_client: httpx.AsyncClient
) -> None:
    settings = ShopifySettings(base_url=BASE, api_version="2025-01")
    store = ShopifyStore.from_settings(settings, transport=transport)
    await store.count_orders()
    await store.aclose()
    log = (await sim_client.get("/__requests", params={"source": "shopify"})).json()
    assert [r["path"] for r in log] == ["/admin/api/2025-01/orders/count.json"]
    assert log[0]["query"] == "status=any"


def test_next_page_info_uses_the_official_parsing_rule() -> None:
    url = "https://s.myshopify.com/admin/api/2024-04/orders.json?limit=50&page_info="
    header = f'<{url}PREV>; rel="previous", <{url}NEXT>; rel="next"'

    assert next_page_info(header) == "NEXT"
    assert next_page_info(header.split(", ")[0]) is None
    assert next_page_info(None) is None


async def test_only_the_fields_the_records_read_are_asked_for_and_the_records_are_the_same(
    store: ShopifyStore, world: World, sim_client: httpx.AsyncClient
) -> None:
    token = {"X-Shopify-Access-Token": DEMO_CREDENTIALS["shopify_token"]}
    first = await store.list_orders(limit=60)
    following = await store.list_orders(limit=60, page_info=first.next_cursor)
    by_ids = await store.get_customers([str(c["id"]) for c in world.shopify_customers[:30]])
    log = (await sim_client.get("/__requests", params={"source": "shopify"})).json()
    assert all("fields=" in r["query"] for r in log), [r["query"] for r in log]

    # The same pages asked for whole: every record decodes to exactly what the trimmed answers gave.
    whole = (await sim_client.get("/shopify/admin/api/2024-04/orders.json",
                                  params={"limit": 120, "status": "any"}, headers=token)).json()["orders"]
    assert [_order(raw) for raw in whole] == first.items + following.items
    customers = (await sim_client.get("/shopify/admin/api/2024-04/customers.json", params={
        "ids": ",".join(by_ids), "limit": 250}, headers=token)).json()["customers"]
    assert {str(raw["id"]): _customer(raw) for raw in customers} == by_ids
    trimmed = (await sim_client.get("/shopify/admin/api/2024-04/orders.json",
                                    params={"limit": 1, "fields": ORDER_FIELDS}, headers=token)).json()["orders"][0]
    assert len(trimmed) < len(whole[0])  # the simulator does trim: the comparison above means something
