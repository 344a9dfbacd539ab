"""Budgets over time: reserve before, settle after, throttle an empty bucket, share it through Redis."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as redis

from harmonia.auth.principal import Principal
from harmonia.limits.budget import Bucket, LocalBudget, client_key
from harmonia.limits.redis_budget import KEY_PREFIX, RedisBudget
from harmonia.settings import load_settings
from tests.conftest import token_for
from tests.limits.conftest import GatewayFactory, upstream_requests

ORDERS_PAGE = "{ orders(first: 100) { edges { node { name } } } }"  # 1 + 100 x (edge + node) = 201
SPARSE = "{ customers(first: 10) { edges { node { orders(first: 100) { edges { node { name } } } } } } }"


async def test_a_burst_from_one_client_is_throttled_while_another_client_is_not(make_gateway: GatewayFactory) -> None:
    async with make_gateway(limits={"budget_maximum": 1000, "budget_restore_rate": 0.5}) as gateway:
        burst = token_for("admin", sub="bursty")
        answers = [await gateway.post(ORDERS_PAGE, token=burst) for _ in range(4)]
        assert [a.status_code for a in answers] == [200] * 4
        assert answers[-1].json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] in range(196, 200)
        calls_before = await upstream_requests(gateway)

        throttled = await gateway.post(ORDERS_PAGE, token=burst)

        assert throttled.status_code == 429
        body = throttled.json()
        error = body["errors"][0]
        assert error["extensions"]["code"] == "THROTTLED"
        retry_after = int(throttled.headers["Retry-After"])
        assert retry_after == error["extensions"]["retryAfterSeconds"]
        assert 1 <= retry_after <= 10  # 201 - ~196 points at 0.5 a second
        assert body["extensions"]["cost"]["requestedQueryCost"] == 201
        assert body["extensions"]["cost"]["throttleStatus"] == {
            "maximumAvailable": 1000, "currentlyAvailable": body["extensions"]["cost"]["throttleStatus"][
                "currentlyAvailable"], "restoreRate": 0.5}
        assert await upstream_requests(gateway) == calls_before  # throttled: no upstream call

        other = await gateway.post(ORDERS_PAGE, token=token_for("admin", sub="calm"))
        assert other.status_code == 200
        assert other.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 1000 - 201


async def test_the_actual_cost_comes_from_the_answer_and_the_difference_is_refunded(
        make_gateway: GatewayFactory) -> None:
    async with make_gateway(limits={"budget_restore_rate": 0.001}) as gateway:
        body = await gateway.query(SPARSE)

    cost = body["extensions"]["cost"]
    orders = sum(len(c["node"]["orders"]["edges"]) for c in body["data"]["customers"]["edges"])
    assert cost["requestedQueryCost"] == 1 + 10 * (3 + 100 * 2)
    assert cost["actualQueryCost"] == 1 + 10 * 3 + 2 * orders  # what came back, priced alike
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]
    # Reserved 2031, refunded the unused part: only the actual cost is gone from the bucket.
    assert cost["throttleStatus"]["currentlyAvailable"] == 20000 - cost["actualQueryCost"]


async def test_limits_per_role_come_from_config(make_gateway: GatewayFactory) -> None:
    costly = "{ customers(first: 100) { edges { node { orders(first: 40) { edges { node { name } } } } } } }"
    preview = {"cost": {"preview": True}}
    async with make_gateway(limits={"roles": {"analyst": {"max_cost": 10000, "budget_maximum": 30000},
                                              "support": {"max_depth": 1}}}) as gateway:
        async def ask(query: str, *roles: str) -> dict[str, Any]:
            response = await gateway.client.post("/graphql", json={"query": query, "extensions": preview},
                                                  headers={"Authorization": f"Bearer {token_for(*roles)}"})
            body: dict[str, Any] = response.json()
            return body

        admin = await ask(costly, "admin")
        assert admin["errors"][0]["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 8301, "limit": 5000}
        analyst = await ask(costly, "analyst")
        assert "errors" not in analyst
        assert analyst["extensions"]["cost"]["requestedQueryCost"] == 8301
        assert analyst["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 30000
        support = await ask("{ orders(first: 1) { edges { node { customer { email } } } } }", "support")
        assert support["errors"][0]["extensions"] == {"code": "DEPTH_LIMIT_EXCEEDED", "depth": 2, "limit": 1}
        several = await ask(costly, "support", "analyst")
        assert "errors" not in several  # several roles: the most generous of each limit
        assert await upstream_requests(gateway) == 0


async def test_the_env_var_names_of_the_contract_set_the_limits(monkeypatch: Any) -> None:
    for name, value in {"MAX_COST": "123", "MAX_DEPTH": "4", "MAX_ALIASES": "5", "MAX_TOKENS": "600",
                        "MAX_PAGE_SIZE": "50", "BUDGET_MAXIMUM": "900", "BUDGET_RESTORE_RATE": "7.5"}.items():
        monkeypatch.setenv(f"HARMONIA_LIMITS__{name}", value)
    limits = load_settings().limits
    assert (limits.max_cost, limits.max_depth, limits.max_aliases, limits.max_tokens, limits.max_page_size,
            limits.budget_maximum, limits.budget_restore_rate) == (123, 4, 5, 600, 50, 900, 7.5)


async def test_the_in_process_bucket_refills_at_its_rate() -> None:
    budget, bucket = LocalBudget(), Bucket(maximum=100, restore_rate=1000)
    assert (await budget.reserve("a", 100, bucket)).allowed
    refused = await budget.reserve("a", 50, bucket)
    assert not refused.allowed and refused.retry_after(50) == 1
    await asyncio.sleep(0.06)
    assert (await budget.reserve("a", 50, bucket)).allowed


async def test_the_redis_script_never_overspends_under_concurrency(redis_url: str) -> None:
    budget = RedisBudget.from_url(redis_url)
    client = f"race-{uuid.uuid4().hex}"
    try:
        states = await asyncio.gather(*(budget.reserve(client, 100, Bucket(1000, 0)) for _ in range(50)))
        assert sum(s.allowed for s in states) == 10
        assert (await budget.peek(client, Bucket(1000, 0))).available == 0
        assert (await budget.adjust(client, 250, Bucket(1000, 0))).available == 250
    finally:
        await budget.client.delete(KEY_PREFIX + client)
        await budget.aclose()


def test_one_bucket_per_subject_and_role_set() -> None:
    assert client_key(Principal("ana", frozenset({"marketer", "analyst"}))) == "ana|analyst,marketer"
    assert client_key(Principal("ana", frozenset({"analyst"}))) != client_key(Principal("bo", frozenset({"analyst"})))


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own, which the test may stop (the shared one must stay up)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", workdir],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield f"redis://127.0.0.1:{port}/0", server
        finally:
            if server.poll() is None:
                server.terminate()
            server.wait(timeout=10)


async def test_a_redis_outage_mid_run_falls_back_to_in_process_budgets(
        make_gateway: GatewayFactory, own_redis: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, server = own_redis
    await _wait_for_redis(url)
    async with make_gateway(redis_url=url, limits={"budget_restore_rate": 0.001}) as gateway:
        shared = await gateway.post(ORDERS_PAGE, token=token_for("admin", sub="outage"))
        assert shared.status_code == 200
        probe = redis.from_url(url)
        assert await probe.exists(f"{KEY_PREFIX}outage|admin") == 1  # metered in Redis
        await probe.aclose()

        server.terminate()
        await asyncio.to_thread(server.wait, 10)

        after = await gateway.post(ORDERS_PAGE, token=token_for("admin", sub="outage"))
        assert after.status_code == 200
        assert len(after.json()["data"]["orders"]["edges"]) == 100
        cost = after.json()["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 201
        assert cost["throttleStatus"]["currentlyAvailable"] == 20000 - 201  # this process's own bucket


async def _wait_for_redis(url: str) -> None:
    client = redis.from_url(url)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                await client.ping()
                return
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
    finally:
        await client.aclose()
