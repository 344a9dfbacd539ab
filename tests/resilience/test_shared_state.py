"""Circuit and pacing state shared through a real Redis, and what happens when Redis goes away."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as redis

from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.sources.discipline import circuit_of
from tests.resilience.test_upstream_faults import ask, build_gateway

CUSTOMERS_WITH_STATUS = "{ customers(first: 3) { edges { node { email emailMarketingStatus } } } }"


async def test_one_instance_opening_a_circuit_spares_the_other_the_calls(world: World, shared_url: str) -> None:
    # Two gateway instances, each with its own simulators (so each one's calls are counted apart).
    sims = [SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world) for _ in range(2)]
    # A circuit that stays open long enough for the second instance to be asked, however loaded the machine.
    (first, first_sim), (second, _) = [await build_gateway(sim, redis_url=shared_url,
                                                           upstream={"circuit_reset_seconds": 30.0}) for sim in sims]
    control = httpx.AsyncClient(transport=httpx.ASGITransport(app=first_sim), base_url="http://sim")
    try:
        await control.post("/__faults", json={"source": "mailchimp", "status": 503, "rate": 1.0, "seconds": 30})
        for _ in range(2):
            await ask(first, "mailchimp", {})
        circuit = circuit_of(second.app.state.sources.mailchimp)
        assert circuit is not None and await circuit.state() == "open"

        status, body = await ask(second, "mailchimp", {})

        assert status == 200
        assert second.upstream_calls()["mailchimp"] == 0  # the second instance never asked the dead API
        assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
        assert all(e["node"]["email"] for e in body["data"]["customers"]["edges"])
    finally:
        await control.aclose()
        for gateway in (first, second):
            await gateway.client.aclose()
            await gateway.app.state.aclose()


async def test_with_redis_unreachable_every_query_still_answers_in_full(world: World) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens here once the socket is closed
    sim = SimulatorState(SimulatorConfig(seed=7), world=world)  # real quotas: pacing must still work
    gateway, _ = await build_gateway(sim, redis_url=f"redis://127.0.0.1:{closed_port}/0")
    try:
        for _ in range(3):
            response = await gateway.post(CUSTOMERS_WITH_STATUS)
            assert response.status_code == 200
            assert "errors" not in response.json(), response.json()
    finally:
        await gateway.client.aclose()
        await gateway.app.state.aclose()


class OwnRedis:
    """A redis-server of one test's own, which the test stops and starts again on the same port."""

    def __init__(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("redis-server is required (Debian's package redis-server)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.workdir = tempfile.mkdtemp()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", self.workdir]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


async def wait_for_redis(url: str) -> None:
    client = redis.from_url(url)
    try:
        for _ in range(100):
            try:
                await client.ping()
                return
            except (redis.RedisError, OSError):
                await asyncio.sleep(0.05)
        pytest.fail("redis-server did not start")
    finally:
        await client.aclose()


async def pacing_keys(url: str) -> list[bytes]:
    client = redis.from_url(url)
    try:
        return [key async for key in client.scan_iter(match="harmonia:pace:*")]
    finally:
        await client.aclose()


async def test_a_redis_restart_degrades_to_in_process_pacing_and_back(world: World, own_redis: OwnRedis) -> None:
    url = own_redis.url
    await wait_for_redis(url)
    sim = SimulatorState(SimulatorConfig(seed=7), world=world)
    gateway, _ = await build_gateway(sim, redis_url=url)
    try:
        assert "errors" not in (await gateway.query(CUSTOMERS_WITH_STATUS))
        assert await pacing_keys(url)  # HubSpot's calls were paced by the shared bucket

        own_redis.stop()
        for _ in range(3):
            response = await gateway.post(CUSTOMERS_WITH_STATUS)
            assert response.status_code == 200 and "errors" not in response.json()

        own_redis.start()
        await wait_for_redis(url)
        await asyncio.sleep(1.1)  # the shared state's cool-down after an outage
        assert "errors" not in (await gateway.query(CUSTOMERS_WITH_STATUS))
        assert await pacing_keys(url)  # back on the shared pacing
    finally:
        await gateway.client.aclose()
        await gateway.app.state.aclose()
