"""Two real gateway processes on one Redis: one fetches, the other answers from it; evictions cross over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.run import stop
from tests.conftest import SOURCES, TEST_SECRET_ENV, token_for

ROOT = Path(__file__).resolve().parents[2]
NESTED = "{ customers(first: 50) { edges { node { email orders(first: 5) { edges { node { name } } } } } } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, list[str]]]:
    """The simulators and two gateways, real processes on loopback, sharing the test Redis."""
    redis_url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not redis_url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the suite under scripts/with-redis.sh (make test)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIA_")}
    sim_port = _free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env.update({f"HARMONIA_SOURCES__{name.upper()}__BASE_URL": f"{sim_url}/{name}" for name in SOURCES})
    env.update(TEST_SECRET_ENV)
    # A separate Redis database: the in-process tests flush theirs.
    env.update({"HARMONIA_REDIS_URL": redis_url.rsplit("/", 1)[0] + "/3"})
    procs = [subprocess.Popen([sys.executable, "-m", "harmonia.cli", "simulate", "--port", str(sim_port),
                               "--no-rate-limits"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)]
    gateways: list[str] = []
    try:
        _wait_up(f"{sim_url}/__stats", procs[0])
        import redis

        redis.Redis.from_url(env["HARMONIA_REDIS_URL"]).flushdb()
        for _ in range(2):
            port = _free_port()
            procs.append(subprocess.Popen([sys.executable, "-m", "harmonia.cli", "serve", "--port", str(port)],
                                          env=env, cwd=ROOT, stdout=subprocess.DEVNULL))
            gateways.append(f"http://127.0.0.1:{port}")
            _wait_up(f"{gateways[-1]}/healthz", procs[-1])
        yield sim_url, gateways
    finally:
        stop(procs)


def query(gateway: str, text: str, role: str = "admin") -> dict[str, object]:
    response = httpx.post(f"{gateway}/graphql", json={"query": text}, timeout=60,
                          headers={"Authorization": f"Bearer {token_for(role)}"})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    assert "errors" not in body, body["errors"]
    return body


def upstream_calls(sim_url: str) -> int:
    stats = httpx.get(f"{sim_url}/__stats").json()
    return sum(stats[s]["requests"] for s in SOURCES)


def test_the_second_instance_answers_the_firsts_query_with_no_upstream_call(
    cluster: tuple[str, list[str]],
) -> None:
    sim_url, (first, second) = cluster
    httpx.post(f"{sim_url}/__reset")

    fetched = query(first, NESTED)
    calls_first = upstream_calls(sim_url)
    httpx.post(f"{sim_url}/__reset")
    shared = query(second, NESTED, role="marketer")

    assert calls_first == 2  # one HubSpot page, one Shopify query for every customer's orders
    assert upstream_calls(sim_url) == 0
    assert shared["data"] == fetched["data"]


def test_an_eviction_on_one_instance_is_seen_by_the_other_within_a_second(cluster: tuple[str, list[str]]) -> None:
    sim_url, (first, second) = cluster
    query(first, NESTED)
    query(second, NESTED)  # now in the second's own tier 1 as well
    httpx.post(f"{sim_url}/__reset")

    query(first, "mutation { evictCache(type: ORDER) { evicted } }")
    evicted_at = time.monotonic()
    while upstream_calls(sim_url) == 0 and time.monotonic() - evicted_at < 3:
        query(second, NESTED)
        time.sleep(0.02)
    seen_after = time.monotonic() - evicted_at

    assert upstream_calls(sim_url) > 0, "the second instance never refetched the evicted orders"
    assert seen_after < 1.0
