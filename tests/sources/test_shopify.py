"""The Shopify connector against the GraphQL Admin simulator: every order, batching by cost, normalization."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import httpx
import pytest

from harmonia.errors import UpstreamAuthFailed, UpstreamUnavailable
from harmonia.settings import ShopifySettings
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.shopify import bucket_of
from harmonia.simulators.shopify_search import epoch
from harmonia.sources.records import LineItem, Money
from harmonia.sources.shopify import CustomerRef, ShopifyStore
from harmonia.sources.shopify_admin import version_supported_until
from harmonia.sources.shopify_fields import undefined_fields
from harmonia.sources.shopify_records import decode_attribution, utm_campaign
from harmonia.sources.writes import ShopifyWrites

BASE = "http://simulators/shopify"
Store = Callable[..., ShopifyStore]


def _status(order: dict[str, Any]) -> str:
    return "cancelled" if order["cancelled_at"] else "closed" if order["closed_at"] else "open"


@pytest.fixture
async def make_store(world: World) -> AsyncIterator[Any]:
    """A store over its own simulator (rate limits off unless the config says), and that simulator's state."""
    made: list[ShopifyStore] = []

    def make(settings: dict[str, Any] | None = None, **config: Any) -> tuple[ShopifyStore, SimulatorState]:
        state = SimulatorState(SimulatorConfig(seed=7, **{"rate_limits": False, **config}), world=world)
        transport = httpx.ASGITransport(app=create_simulator_app(state=state))
        store = ShopifyStore.from_settings(ShopifySettings(base_url=BASE, **(settings or {})), transport=transport)
        made.append(store)
        return store, state

    yield make
    for store in made:
        await store.aclose()


@pytest.fixture
def shop(make_store: Any) -> tuple[ShopifyStore, SimulatorState]:
    pair: tuple[ShopifyStore, SimulatorState] = make_store()
    return pair


def documents(state: SimulatorState) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in state.log if r["source"] == "shopify"]


async def test_paging_to_the_end_returns_every_order_once_whatever_its_status(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, state = shop
    orders = await store.all_orders(page_size=250)

    assert [o.id for o in orders] == [str(o["id"]) for o in world.orders]
    assert {_status(o) for o in world.orders} == {"open", "closed", "cancelled"}
    assert len(documents(state)) == -(-len(world.orders) // 250)
    sent = documents(state)[0]
    # Defaults that decide what is read are sent, never assumed; no status filter (GraphQL lists them all).
    assert "sortKey: ID, reverse: false" in sent["query"] and "query:" not in sent["query"]


async def test_six_hundred_orders_by_id_take_three_nodes_queries_and_duplicates_none(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, state = shop
    ids = [str(o["id"]) for o in world.orders[:600]]
    found = await store.get_orders(ids + ids[:50] + ["1", "not-a-number"])

    assert sorted(found) == sorted(ids)
    sent = documents(state)
    assert len(sent) == 3 and sorted(len(d["variables"]["ids"]) for d in sent) == [101, 250, 250]  # and "1"
    closed = next(o for o in world.orders[:600] if _status(o) == "closed")
    assert found[str(closed["id"])].closed_at is not None


async def test_orders_carry_exact_money_utc_dates_and_lower_case_statuses(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, _ = shop
    raw = next(o for o in world.orders if o["created_at"].endswith(("-05:00", "+02:00", "-08:00", "+01:00")))
    order = (await store.get_orders([str(raw["id"])]))[str(raw["id"])]
    whole = next(o for o in world.orders if o["total_price"].endswith(".00") or o["total_price"].endswith("0"))
    round_total = (await store.get_orders([str(whole["id"])]))[str(whole["id"])]

    assert order.total_price == Money(raw["total_price"], "USD")
    assert order.created_at.endswith("Z") and epoch(order.created_at) == epoch(raw["created_at"])
    assert order.financial_status == raw["financial_status"]  # PARTIALLY_REFUNDED -> partially_refunded
    assert round_total.total_price.amount == whole["total_price"]  # Shopify's "20.0" comes back "20.00"


async def test_customers_come_in_one_nodes_query_with_normalized_contact_data(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, state = shop
    raw = [c for c in world.shopify_customers if c["phone"] and c["orders_count"]][:40]
    found = await store.get_customers([str(c["id"]) for c in raw])

    assert len(documents(state)) == 1
    for customer in raw:
        got = found[str(customer["id"])]
        assert got.email == customer["email"].strip().lower()
        assert got.phone is not None and got.phone.startswith("+")
        assert got.orders_count == customer["orders_count"]
        assert got.total_spent == Money(customer["total_spent"], "USD")
        assert got.email_marketing_state == customer["email_marketing_consent"]["state"]


async def test_many_customers_orders_come_in_one_query_by_id_and_by_email(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, state = shop
    buyers = [c for c in world.shopify_customers if len(world.customer_orders(c["id"])) >= 2][:30]
    by_id = [(CustomerRef.by_id(str(c["id"])), 5, None) for c in buyers[:20]]
    by_email = [(CustomerRef.by_email(f"  {c['email'].upper()} "), 5, None) for c in buyers[20:]]
    nobody = (CustomerRef.by_email("nobody@example.com"), 5, None)

    pages = await store.orders_of_customers([*by_id, *by_email, nobody, (CustomerRef.by_id("1"), 5, None)])

    assert len(documents(state)) == 1
    for key, customer in zip(by_id + by_email, buyers, strict=True):
        expected = [str(o["id"]) for o in world.customer_orders(customer["id"])]
        assert [o.id for o in pages[key].items] == expected[:5]
        assert (pages[key].next_cursor is not None) == (len(expected) > 5)
    assert pages[nobody].items == [] and pages[(CustomerRef.by_id("1"), 5, None)].items == []


async def test_a_customers_next_page_of_orders_continues_after_the_first(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, _ = shop
    customer = next(c for c in world.shopify_customers if len(world.customer_orders(c["id"])) >= 5)
    first = await store.customer_orders(str(customer["id"]), 2)
    second = await store.customer_orders(str(customer["id"]), 2, first.next_cursor)

    assert [o.id for o in first.items + second.items] == [str(o["id"]) for o in
                                                          world.customer_orders(customer["id"])][:4]


async def test_fifty_customers_with_fifty_orders_each_are_split_under_the_1000_point_limit(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, state = shop
    keys = [(CustomerRef.by_id(str(c["id"])), 50, None) for c in world.shopify_customers[:50]]
    pages = await store.orders_of_customers(keys)

    stats = state.stats()["shopify"]
    assert stats.get("graphql_errors", {}) == {}
    assert len(documents(state)) == 9  # 153 points a customer: six a query
    assert sum(len(p.items) for p in pages.values()) == sum(
        len(world.customer_orders(c["id"])) for c in world.shopify_customers[:50])


async def test_shopify_pricing_higher_than_its_rules_splits_the_query_again_and_is_remembered(
    make_store: Any, world: World
) -> None:
    store, state = make_store(shopify_cost_factor=1.5)
    ids = [str(o["id"]) for o in world.orders[:300]]
    found = await store.get_orders(ids)
    state.reset()
    again = await store.get_orders(ids)

    assert len(found) == len(again) == 300
    assert store.admin.scale == pytest.approx(1.5, rel=0.01)
    assert len(documents(state)) == 2  # 300 x 3 x 1.5 = 1350 points: two queries, no refusal
    assert state.stats()["shopify"]["graphql_errors"] == {}


async def test_a_small_bucket_shapes_every_query_to_fit_it(make_store: Any, world: World) -> None:
    store, state = make_store(rate_limits=True, shopify_maximum_available=300.0, shopify_restore_rate=10_000.0)
    ids = [str(o["id"]) for o in world.orders[:250]]
    first = await store.get_orders(ids)
    # The very first query went out before the shop had said anything (the configured 2000 points): it
    # may be refused once, and is split by what the refusal said.
    assert state.stats()["shopify"]["graphql_errors"] in ({}, {"THROTTLED": 1})
    state.reset()

    again = await store.get_orders(ids)

    assert len(first) == len(again) == 250
    assert store.admin.budget() == 300.0
    assert len(documents(state)) == 3 and state.stats()["shopify"]["graphql_errors"] == {}  # 99 + 99 + 52 ids


async def test_a_customers_page_too_big_for_the_bucket_comes_shorter_with_a_cursor(
    make_store: Any, world: World
) -> None:
    store, state = make_store(rate_limits=True, shopify_maximum_available=20.0, shopify_restore_rate=10_000.0)
    await store.shop()  # the bucket is known: 20 points, four orders a query
    customer = max(world.shopify_customers, key=lambda c: len(world.customer_orders(c["id"])))
    page = await store.customer_orders(str(customer["id"]), 100)

    assert 1 <= len(page.items) < len(world.customer_orders(customer["id"])) and page.next_cursor
    assert state.stats()["shopify"]["graphql_errors"] == {}


async def test_the_order_count_asks_for_no_limit(shop: tuple[ShopifyStore, SimulatorState], world: World) -> None:
    store, state = shop
    assert await store.count_orders() == len(world.orders)
    assert "ordersCount(limit: null)" in documents(state)[0]["query"]


async def test_attribution_reads_the_converting_visit_and_the_landing_url_when_utm_is_missing(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, _ = shop
    tagged = [o for o in world.orders if "utm_campaign" in o["landing_site"]][:60]
    untagged = next(o for o in world.orders if "utm_campaign" not in o["landing_site"])
    found = await store.order_attribution([str(o["id"]) for o in [*tagged, untagged]])

    assert any(o["id"] % 3 == 0 for o in tagged) and any(o["id"] % 3 for o in tagged)  # both journey shapes
    for order in tagged:
        assert found[str(order["id"])].utm_campaign == utm_campaign(order["landing_site"])
    assert found[str(untagged["id"])].utm_campaign is None
    visit = {"landingPage": "https://shop.example/p?utm_source=x&utm_campaign=Spring+Sale%21", "utmParameters": None}
    attribution = decode_attribution({"id": "gid://shopify/Order/9", "customerJourneySummary": {"lastVisit": visit}})
    assert attribution is not None and attribution.utm_campaign == "Spring Sale!"


async def test_line_items_come_for_many_orders_at_once_and_long_orders_are_read_to_the_end(
    make_store: Any, writable_world: World
) -> None:
    state_world = writable_world
    long = state_world.orders[0]
    long["line_items"] = [{**long["line_items"][0], "id": n, "title": f"Item {n}", "quantity": 1}
                          for n in range(23)]
    state = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=state_world)
    store = ShopifyStore.from_settings(ShopifySettings(base_url=BASE),
                                       transport=httpx.ASGITransport(app=create_simulator_app(state=state)))
    try:
        found = await store.order_line_items([str(o["id"]) for o in state_world.orders[:40]])
    finally:
        await store.aclose()

    assert [i.title for i in found[str(long["id"])].items] == [f"Item {n}" for n in range(23)]
    second = state_world.orders[1]
    assert found[str(second["id"])].items == tuple(
        LineItem(i["title"], i["quantity"], Money(i["price"], "USD")) for i in second["line_items"])
    operations = [json.loads(r["body"])["query"].split("(")[0] for r in state.log]
    # 40 orders x 33 points: two queries; the long order's last 13 items: one more.
    assert operations.count("query HarmoniaOrdersByIds") == 2 and operations.count("query HarmoniaLineItems") == 1


async def test_an_order_whose_items_shopify_cannot_answer_is_unreadable_and_its_siblings_are_not(
    make_store: Any, writable_world: World
) -> None:
    broken = writable_world.orders[1]
    broken["line_items"] = [{k: v for k, v in i.items() if k not in ("price", "price_set")}
                            for i in broken["line_items"]]
    state = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=writable_world)
    store = ShopifyStore.from_settings(ShopifySettings(base_url=BASE),
                                       transport=httpx.ASGITransport(app=create_simulator_app(state=state)))
    try:
        found = await store.order_line_items([str(o["id"]) for o in writable_world.orders[:3]])
    finally:
        await store.aclose()
    assert [found[str(o["id"])].readable for o in writable_world.orders[:3]] == [True, False, True]


async def test_an_order_shopify_answers_an_error_for_fails_the_read_instead_of_reading_as_absent(
    writable_world: World,
) -> None:
    broken = writable_world.orders[1]
    del broken["total_price"]
    state = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=writable_world)
    store = ShopifyStore.from_settings(ShopifySettings(base_url=BASE),
                                       transport=httpx.ASGITransport(app=create_simulator_app(state=state)))
    try:
        with pytest.raises(UpstreamUnavailable):
            await store.get_orders([str(o["id"]) for o in writable_world.orders[:3]])
        with pytest.raises(UpstreamUnavailable):
            await store.customer_orders(str(broken["customer"]["id"]), 10)
        assert len(await store.get_orders([str(writable_world.orders[0]["id"])])) == 1  # the others still read
    finally:
        await store.aclose()


async def test_customers_by_messy_email_in_one_aliased_query(
    shop: tuple[ShopifyStore, SimulatorState], world: World
) -> None:
    store, state = shop
    messy = [c for c in world.shopify_customers if c["email"] != c["email"].strip().lower()][:8]
    asked = [f" {c['email'].strip().upper()} " for c in messy] + ["nobody@example.com", 'x" OR email:*']
    found = await store.find_customers_by_email(asked)

    assert len(documents(state)) == 1
    assert [found[a].id if found[a] else None for a in asked] == [str(c["id"]) for c in messy] + [None, None]
    assert all(isinstance(v, str) for v in documents(state)[0]["variables"].values())  # values, never spliced


@pytest.mark.parametrize("status", [200, 429])
async def test_a_throttled_answer_at_200_or_429_is_waited_out_and_asked_again(make_store: Any, status: int) -> None:
    store, state = make_store(rate_limits=True, shopify_throttle_status=status)
    await store.list_orders(5)  # the bucket is known: full
    bucket_of(state).reconfigure(available=0.0, restore_rate=200.0)  # another app of the shop spent it all

    started = time.monotonic()
    page = await store.list_orders(50)  # 152 points: three quarters of a second at 200 a second

    assert len(page.items) == 50
    assert state.stats()["shopify"]["graphql_errors"] == {"THROTTLED": 1}  # one refusal, then it waited
    assert time.monotonic() - started >= 0.5  # it waited for the points instead of failing


async def test_an_email_that_is_search_syntax_gets_no_ones_orders_and_never_reaches_shopify(
    shop: tuple[ShopifyStore, SimulatorState],
) -> None:
    store, state = shop
    hostile = ["x@y.z OR email:*", '"a@b.c" OR *', "a@b.c) OR (email:*", "*", "no-at-sign"]
    pages = await store.orders_of_customers([(CustomerRef.by_email(e), 5, None) for e in hostile])
    found = await store.find_customers_by_email(hostile)

    assert all(p.items == [] for p in pages.values()) and set(found.values()) == {None}
    assert documents(state) == []


async def test_an_erasure_request_is_sent_once_even_when_shopify_answers_503(
    make_store: Any, world: World
) -> None:
    store, state = make_store({"max_retries": 3})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_simulator_app(state=state)),
                                 base_url="http://simulators") as sim:
        await sim.post("/__faults", json={"source": "shopify", "status": 503, "rate": 1.0, "seconds": 5})
    with pytest.raises(UpstreamUnavailable):
        await ShopifyWrites(store).erase_customer(str(world.shopify_customers[0]["id"]))
    assert len(documents(state)) == 1  # not idempotent: the erasure job retries it, the HTTP layer never


async def test_a_shop_without_some_order_fields_is_read_without_them_and_the_email_comes_from_the_customer(
    make_store: Any, world: World
) -> None:
    store, state = make_store(shopify_hidden_fields=("Order.email", "Order.closedAt"))
    page = await store.list_orders(20)
    again = await store.list_orders(20)

    assert store.missing == {("Order", "email"), ("Order", "closedAt")}
    assert [o.id for o in page.items] == [o.id for o in again.items] == [str(o["id"]) for o in world.orders[:20]]
    for order, raw in zip(page.items, world.orders[:20], strict=True):
        expected = raw["customer"]["email"].strip().lower() if raw["customer"] else None  # guests: none
        assert order.email == expected and order.closed_at is None
    assert len(documents(state)) == 1 + 2  # one refusal naming both fields, then one query a page


def test_undefined_field_errors_are_read_in_shopifys_wording_and_graphql_cores() -> None:
    shopify = [{"message": "Field 'email' doesn't exist on type 'Order'", "extensions": {
        "code": "undefinedField", "typeName": "Order", "fieldName": "email"}}]
    core = [{"message": "Cannot query field 'cancelledAt' on type 'Order'."}]
    assert undefined_fields(shopify) == {("Order", "email")}
    assert undefined_fields(core) == {("Order", "cancelledAt")}
    assert undefined_fields([{"message": "Throttled"}]) == set()


async def test_a_shop_without_a_field_harmonia_needs_is_an_outage_not_a_loop(make_store: Any) -> None:
    store, state = make_store(shopify_hidden_fields=("Order.totalPriceSet",))
    with pytest.raises(UpstreamUnavailable, match="api_version"):
        await store.list_orders(5)
    assert len(documents(state)) == 1


async def test_a_wrong_token_is_an_auth_failure(make_store: Any) -> None:
    store, _ = make_store({"token": "shpat_wrong"})
    with pytest.raises(UpstreamAuthFailed):
        await store.list_orders(5)


async def test_another_api_version_is_used_in_every_call(make_store: Any) -> None:
    store, state = make_store({"api_version": "2026-07"})
    await store.list_orders(2)
    await store.get_customers(["6200000000"])
    assert {r["path"] for r in state.log} == {"/admin/api/2026-07/graphql.json"}


async def test_a_token_without_read_all_orders_is_noticed_from_the_order_reads_themselves(
    make_store: Any
) -> None:
    limited, limited_state = make_store(shopify_read_all_orders=False)
    full, _ = make_store()

    assert limited.orders_window_days() is None  # not known yet: nothing said
    await limited.list_orders(10)
    await full.list_orders(10)

    assert len(limited_state.log) == 1  # the scopes rode along with the orders
    assert limited.orders_window_days() == 60
    assert full.orders_window_days() is None
    info = await limited.shop()
    assert info.name == "Harmonia Outdoor" and info.plan == "Basic"
    assert "read_orders" in info.scopes and "read_all_orders" not in info.scopes


async def test_an_answer_without_cost_extensions_still_works(make_store: Any, world: World) -> None:
    store, _ = make_store(rate_limits=True, shopify_report_cost=False)
    page = await store.list_orders(50)
    assert len(page.items) == 50 and store.throttle_status() is None


async def test_a_shopify_outage_is_upstream_unavailable_with_no_shopify_text(make_store: Any) -> None:
    store, state = make_store({"max_retries": 0})
    await httpx.AsyncClient(transport=httpx.ASGITransport(app=create_simulator_app(state=state)),
                            base_url="http://simulators").post("/__faults", json={
                                "source": "shopify", "status": 503, "rate": 1.0, "seconds": 5})
    with pytest.raises(UpstreamUnavailable) as failure:
        await store.list_orders(5)
    assert "Injected" not in failure.value.message


@pytest.mark.parametrize(("version", "until"), [("2026-10", date(2027, 10, 1)), ("2023-01", date(2024, 1, 1)),
                                                ("unstable", None), ("2026-13", None), ("latest", None)])
def test_a_stable_version_is_supported_for_twelve_months_from_its_release(version: str, until: date | None) -> None:
    assert version_supported_until(version) == until
