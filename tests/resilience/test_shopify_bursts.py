"""Bursts against Shopify's cost bucket: the gateway's pace follows the restore rate Shopify reports, up
and down, draws no THROTTLED answer, and fails a field only once the operation's deadline has passed.

In-process (ASGI) gateway and simulator, rate limits on, every cache off so each query reaches Shopify;
bounded to a few seconds each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from harmonia.resolvers.ids import encode_id
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.shopify import bucket_of
from tests.conftest import Gateway, open_gateway

ORDERS = "{ orders(first: 10) { edges { node { name } } } }"
POINTS = 2 + 10 * 3  # what Shopify charges for ORDERS (the connector reads 3 points an order)
WIDE_OPEN = {"budget_maximum": 10**9, "budget_restore_rate": 10**9}  # the clients' own budgets are not under test


@pytest.fixture
async def shop_under_quota(world: World) -> AsyncIterator[Any]:
    opened: list[Any] = []

    async def make(*, maximum: float, restore_rate: float, deadline: float) -> tuple[Gateway, SimulatorState]:
        state = SimulatorState(SimulatorConfig(seed=7, shopify_maximum_available=maximum,
                                               shopify_restore_rate=restore_rate), world=world)
        gateway, close = await open_gateway(state, cache={"enabled": False}, limits=WIDE_OPEN,
                                            upstream={"operation_deadline": deadline})
        opened.append(close)
        return gateway, state

    yield make
    for close in opened:
        await close()


async def burst(gateway: Gateway, clients: int, seconds: float) -> list[tuple[float, float, dict[str, Any]]]:
    """``clients`` each sending ORDERS again as soon as it is answered: (sent, answered, body) per query."""
    ends = time.monotonic() + seconds
    answers: list[tuple[float, float, dict[str, Any]]] = []

    async def client() -> None:
        while time.monotonic() < ends:
            sent = time.monotonic()
            body = await gateway.query(ORDERS)
            answers.append((sent, time.monotonic(), body))

    await asyncio.gather(*(client() for _ in range(clients)))
    return answers


def points_per_second(answers: list[tuple[float, float, dict[str, Any]]], start: float, end: float) -> float:
    served = [a for a in answers if start <= a[1] < end and "errors" not in a[2]]
    return len(served) * POINTS / (end - start)


async def test_a_raised_restore_rate_is_followed_within_20_percent_without_a_throttled_answer(
    shop_under_quota: Any,
) -> None:
    gateway, state = await shop_under_quota(maximum=200.0, restore_rate=300.0, deadline=5.0)
    began = time.monotonic()

    async def raise_the_rate() -> None:
        await asyncio.sleep(3.0)
        bucket_of(state).reconfigure(restore_rate=1200.0)

    answers, _ = await asyncio.gather(burst(gateway, clients=16, seconds=6.0), raise_the_rate())

    slow = points_per_second(answers, began + 1.0, began + 3.0)
    fast = points_per_second(answers, began + 4.0, began + 6.0)
    assert 0.8 * 300 <= slow <= 1.2 * 300, slow
    assert 0.8 * 1200 <= fast <= 1.2 * 1200, fast
    assert state.stats()["shopify"]["graphql_errors"] == {}
    assert all("errors" not in body for _, _, body in answers)


async def test_a_lowered_restore_rate_draws_no_throttled_answer_and_fields_fail_only_past_the_deadline(
    shop_under_quota: Any,
) -> None:
    gateway, state = await shop_under_quota(maximum=2000.0, restore_rate=2000.0, deadline=1.5)
    await gateway.query(ORDERS)  # Shopify's status is known: a generous bucket
    bucket_of(state).reconfigure(maximum=100.0, restore_rate=10.0, available=100.0)
    await gateway.query(ORDERS)  # its answer reports the lowered plan

    answers = await asyncio.gather(*(timed(gateway) for _ in range(8)))

    limited = [(elapsed, body) for elapsed, body in answers if "errors" in body]
    served = [body for _, body in answers if "errors" not in body]
    assert state.stats()["shopify"]["graphql_errors"] == {}
    assert len(served) >= 1 and len(limited) >= 4  # 68 points were left, then 10 a second
    for elapsed, body in limited:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_RATE_LIMITED"]
        assert body["errors"][0]["path"] == ["orders"]
        assert 1.5 * 0.95 <= elapsed < 1.5 + 3.0, elapsed  # at the deadline, not before it


async def timed(gateway: Gateway) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    body = await gateway.query(ORDERS)
    return time.monotonic() - started, body


async def test_a_burst_of_200_single_order_queries_within_the_bucket_all_answer_at_once(
    shop_under_quota: Any, world: World,
) -> None:
    """The first release paced Shopify at 2 calls a second whatever the shop said: 143 of such a burst
    answered UPSTREAM_RATE_LIMITED. By points, 200 single orders (3 each) fit a 2000-point bucket."""
    gateway, state = await shop_under_quota(maximum=2000.0, restore_rate=100.0, deadline=5.0)
    query = "query($id: ID!) { order(id: $id) { name } }"
    ids = [encode_id("Order", str(o["id"])) for o in world.orders[:200]]

    bodies = await asyncio.gather(*(gateway.query(query, {"id": i}) for i in ids))

    assert [b["data"]["order"]["name"] for b in bodies] == [o["name"] for o in world.orders[:200]]
    assert all("errors" not in b for b in bodies)  # no UPSTREAM_RATE_LIMITED: the points were there
    assert state.stats()["shopify"]["graphql_errors"] == {}
