"""Pacing by Shopify's throttle status: the model follows each report both ways, and instances share it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from harmonia.settings import ShopifySettings
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.shopify import bucket_of
from harmonia.sources.shared import SharedRedis
from harmonia.sources.shopify import ShopifyStore
from harmonia.sources.shopify_pacing import CostPacer, Report, ThrottleStatus
from tests.resilience.conftest import forget_upstream_state, redis_url


def told(available: float, maximum: float = 2000.0, rate: float = 100.0) -> Report:
    return Report(ThrottleStatus(maximum, available, rate), actual=0.0)


async def test_the_bucket_size_and_restore_rate_are_learned_from_the_answer_above_the_configured_ones() -> None:
    pacer = CostPacer(maximum=2000.0, restore_rate=100.0)  # Standard, as configured
    ticket = await pacer.acquire(50)
    await pacer.settle(ticket, told(19_000.0, maximum=20_000.0, rate=1000.0))  # a Plus shop

    assert (pacer.maximum, pacer.restore_rate) == (20_000.0, 1000.0)
    assert 19_000 <= pacer.available() < 19_100
    # 19 000 points: at the configured 100 a second that would be three minutes of waiting.
    await asyncio.wait_for(asyncio.gather(*(pacer.acquire(1000) for _ in range(19))), 5)


async def test_what_is_left_follows_each_report_down_as_well() -> None:
    pacer = CostPacer(maximum=2000.0, restore_rate=100.0)
    ticket = await pacer.acquire(10)
    await pacer.settle(ticket, told(40.0, rate=100.0))  # another app of the same shop spent the rest

    assert 40 <= pacer.available() < 45
    started = time.monotonic()
    await pacer.acquire(60)  # 20 more points at 100 a second: it waits for them
    assert time.monotonic() - started >= 0.15


async def test_points_of_calls_still_in_flight_count_against_what_a_report_says() -> None:
    pacer = CostPacer(maximum=2000.0, restore_rate=1.0)
    first = await pacer.acquire(100)
    await pacer.settle(first, told(1900.0, rate=1.0))
    second = await pacer.acquire(100)
    await pacer.acquire(300)  # still in flight when `second` is answered
    await pacer.settle(second, told(1800.0, rate=1.0))

    assert 1499 <= pacer.available() <= 1501  # 1800 - the 300 still in flight


async def test_a_report_older_than_the_last_one_may_lower_the_level_but_never_raise_it() -> None:
    pacer = CostPacer(maximum=2000.0, restore_rate=1.0)
    warmup = await pacer.acquire(1)
    await pacer.settle(warmup, told(2000.0, rate=1.0))
    early, late = await pacer.acquire(100), await pacer.acquire(100)
    await pacer.settle(late, told(1700.0, rate=1.0))   # the newer answer arrives first
    await pacer.settle(early, told(1900.0, rate=1.0))  # then the older, which had not seen `late`

    assert pacer.available() < 1701
    lowered = await pacer.acquire(1)
    await pacer.settle(lowered, told(500.0, rate=1.0))
    assert pacer.available() < 501


async def test_before_the_shop_has_said_anything_one_call_asks_alone() -> None:
    pacer = CostPacer(maximum=2000.0, restore_rate=100.0)
    probe = await pacer.acquire(10)
    waiting = asyncio.ensure_future(pacer.acquire(10))
    await asyncio.sleep(0.05)
    assert not waiting.done()

    await pacer.settle(probe, told(100.0, maximum=100.0))
    await asyncio.wait_for(waiting, 1)
    assert pacer.maximum == 100.0


async def test_a_slow_first_answer_holds_the_others_back_only_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harmonia.sources.shopify_pacing.PROBE_PATIENCE", 0.1)
    pacer = CostPacer(maximum=2000.0, restore_rate=100.0)
    await pacer.acquire(10)  # the probe, never answered here
    await asyncio.wait_for(pacer.acquire(10), 1)  # goes on with the configured bucket


async def test_a_throttled_answer_that_says_nothing_leaves_less_than_the_call_cost() -> None:
    pacer = CostPacer(maximum=2000.0, restore_rate=100.0)
    ticket = await pacer.acquire(300)
    await pacer.settle(ticket, Report(throttled=True))
    assert pacer.available() < 300


@pytest.fixture
async def shared_pair() -> AsyncIterator[tuple[SharedRedis, SharedRedis]]:
    url = redis_url()
    await forget_upstream_state(url)
    pair = (SharedRedis.connect(url), SharedRedis.connect(url))
    assert pair[0] is not None and pair[1] is not None
    yield pair[0], pair[1]
    for shared in pair:
        await shared.aclose()
    await forget_upstream_state(url)


async def test_two_instances_sharing_the_bucket_in_redis_draw_no_throttled_answer(
    shared_pair: tuple[SharedRedis, SharedRedis], world: World
) -> None:
    state = SimulatorState(SimulatorConfig(seed=7, shopify_maximum_available=300.0, shopify_restore_rate=600.0),
                           world=world)
    transport = httpx.ASGITransport(app=create_simulator_app(state=state))
    stores = [ShopifyStore.from_settings(ShopifySettings(base_url="http://simulators/shopify"), transport=transport)
              for _ in shared_pair]
    for store, shared in zip(stores, shared_pair, strict=True):
        store.share_pacing(shared, "test-shop")
    try:
        ends = time.monotonic() + 2.5
        served = 0

        async def client(store: ShopifyStore) -> None:
            nonlocal served
            while time.monotonic() < ends:
                await store.list_orders(10)  # 32 points
                served += 1

        began = time.monotonic()
        await asyncio.gather(*(client(stores[n % 2]) for n in range(12)))
        elapsed = time.monotonic() - began
    finally:
        for store in stores:
            await store.aclose()

    assert state.stats()["shopify"]["graphql_errors"] == {}
    # The bucket's 300 points plus 600 a second, shared: neither instance took the other's share.
    assert served * 32 <= 300 + 600 * elapsed + 64
    assert served > 0


async def test_with_redis_down_each_instance_paces_on_its_own_model(world: World) -> None:
    down = SharedRedis.connect("redis://127.0.0.1:1/0", timeout=0.05)
    assert down is not None
    state = SimulatorState(SimulatorConfig(seed=7, shopify_maximum_available=200.0, shopify_restore_rate=400.0),
                           world=world)
    store = ShopifyStore.from_settings(ShopifySettings(base_url="http://simulators/shopify"),
                                       transport=httpx.ASGITransport(app=create_simulator_app(state=state)))
    store.share_pacing(down, "test-shop")
    try:
        pages = await asyncio.gather(*(store.list_orders(10) for _ in range(20)))
    finally:
        await store.aclose()
        await down.aclose()
    assert all(len(p.items) == 10 for p in pages)
    assert state.stats()["shopify"]["graphql_errors"] == {}
    assert bucket_of(state).restore_rate == 400.0
