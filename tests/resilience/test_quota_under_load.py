"""Two real gateway processes sharing pacing through Redis keep a load far above every SaaS quota
under those quotas: the simulators (real quotas on) answer them zero 429s.

Bounded: loopback only, a few seconds of load, every process stopped at the end. The contrast run
(each instance pacing on its own) shows the same load does draw 429s, so the load is above the quotas.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harmonia.auth.tokens import mint_token
from tests.conftest import SOURCES, TEST_JWT_SECRET, TEST_SECRET_ENV
from tests.resilience.conftest import redis_url

ROOT = Path(__file__).resolve().parents[2]
RANGE = '{startDate: "2026-01-01", endDate: "2026-01-31"}'
HUBSPOT = "{ customers(first: 5) { edges { node { email firstName } } } }"
SHOPIFY = "{ orders(first: 20) { edges { node { name totalPrice { amount } } } } }"
MAILCHIMP = "{ customers(first: 10) { edges { node { email emailMarketingStatus } } } }"  # + Mailchimp x10
CAMPAIGNS = (f"{{ campaigns(first: 40) {{ edges {{ node {{ name stats {{ clicks emailsSent }} "
             f"analytics(dateRange: {RANGE}) {{ sessions }} }} }} }} }}")  # Mailchimp, Google Ads, GA4
# Each client keeps to one query: the HubSpot-only clients must not wait behind Shopify's bucket.
QUERIES = [HUBSPOT] * 4 + [SHOPIFY] * 2 + [MAILCHIMP, CAMPAIGNS]
WORKERS = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """Started processes, each stopped (terminate, then kill) when the test ends."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str]) -> None:
        self.started.append(subprocess.Popen([sys.executable, "-m", "harmonia.cli", *args], cwd=ROOT, env=env,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        for process in self.started:
            process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.stop()


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.update(TEST_SECRET_ENV)
    return env


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(url, timeout=1.0)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"{url} did not come up")


async def start_stack(processes: Processes, *, shared: bool) -> tuple[str, list[str]]:
    sim_port = free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    # Real quotas (rate limits on); 20 ms per answer, so calls overlap as they do over the internet.
    processes.start(["simulate", "--port", str(sim_port), "--latency-ms", "20"], base_env())
    gateways = []
    for _ in range(2):
        port = free_port()
        env = base_env()
        env.update({f"HARMONIA_SOURCES__{name.upper()}__BASE_URL": f"{sim}/{name}" for name in SOURCES})
        env.update({"HARMONIA_REDIS_URL": redis_url(), "HARMONIA_CACHE__ENABLED": "false",
                    "HARMONIA_UPSTREAM__OPERATION_DEADLINE": "2",
                    # The clients' own cost budgets are not under test: only the SaaS quotas are.
                    "HARMONIA_LIMITS__BUDGET_MAXIMUM": "10000000", "HARMONIA_LIMITS__BUDGET_RESTORE_RATE": "1000000",
                    "HARMONIA_UPSTREAM__SHARED_STATE": "true" if shared else "false"})
        processes.start(["serve", "--port", str(port)], env)
        gateways.append(f"http://127.0.0.1:{port}")
    await wait_ready(f"{sim}/__stats")
    for gateway in gateways:
        await wait_ready(f"{gateway}/healthz")
    return sim, gateways


async def drive(gateways: list[str], seconds: float) -> dict[int, int]:
    """``WORKERS`` clients, each sending the next query as soon as the last answered, for ``seconds``."""
    statuses: dict[int, int] = {}
    ends = time.monotonic() + seconds

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        token = mint_token(TEST_JWT_SECRET, roles=["admin"], sub=f"client-{n}", ttl=600)
        headers = {"Authorization": f"Bearer {token}"}
        i = n
        query = QUERIES[n % len(QUERIES)]
        while time.monotonic() < ends:
            response = await client.post(f"{gateways[i % 2]}/graphql", json={"query": query}, headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            i += 1

    limits = httpx.Limits(max_connections=WORKERS * 2)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        await asyncio.gather(*(worker(n, client) for n in range(WORKERS)))
    return statuses


async def refused(sim: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        stats = (await client.get(f"{sim}/__stats")).json()
    # Shopify refuses over its bucket with THROTTLED, at HTTP 200 by default: counted beside the 429s.
    return {name: {"requests": stats[name]["requests"], **stats[name]["statuses"],
                   "THROTTLED": stats[name].get("graphql_errors", {}).get("THROTTLED", 0)}
            for name in SOURCES}


async def test_two_instances_sharing_the_pacing_draw_no_429_from_any_saas(processes: Processes) -> None:
    sim, gateways = await start_stack(processes, shared=True)

    statuses = await drive(gateways, seconds=4.0)
    upstream = await refused(sim)

    assert set(statuses) == {200}, statuses  # no 5xx, no request error: every answer is data (or partial)
    assert all(counts.get("429", 0) == 0 and counts["THROTTLED"] == 0 for counts in upstream.values()), upstream
    assert upstream["hubspot"]["requests"] > 0 and upstream["mailchimp"]["requests"] > 0
    assert upstream["shopify"]["requests"] > 0


async def test_the_same_load_without_shared_pacing_does_draw_429s(processes: Processes) -> None:
    sim, gateways = await start_stack(processes, shared=False)

    await drive(gateways, seconds=3.0)
    upstream = await refused(sim)

    assert sum(counts.get("429", 0) for counts in upstream.values()) > 0, upstream
