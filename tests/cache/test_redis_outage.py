"""Redis is optional and may die: a load run across its death loses no request."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis

from tests.cache.conftest import MakeGateway

ONE = "query($id: ID!) { customer(id: $id) { email totalSpent { amount } emailMarketingStatus } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own, so killing it harms no other test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is required (scripts/with-redis.sh installs or names it)")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = sync_redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except sync_redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url, proc
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_killing_redis_during_a_load_run_fails_no_request(
    make_gateway: MakeGateway, own_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, server = own_redis
    # Two instances with a small tier 1: misses keep going to Redis, and what one fetched the other reads there.
    settings: dict[str, Any] = {"redis_url": url, "cache": {"max_entries": 40, "redis_retry_after": 0.5},
                                "sources": {"hubspot": {"requests_per_window": 100_000}}}
    gateways = [await make_gateway(**settings), await make_gateway(**settings)]
    page = await gateways[0].query("{ customers(first: 100) { edges { node { id } } } }")
    ids = [e["node"]["id"] for e in page["data"]["customers"]["edges"]]
    total, concurrency, kill_at = 240, 10, 80
    outcomes: list[tuple[int, list[Any]]] = []
    redis_keys_before_kill: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)

    async def client() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            if n == kill_at:
                redis_keys_before_kill.append(sync_redis.Redis.from_url(url).dbsize())
                server.send_signal(signal.SIGKILL)
            response = await gateways[n % 2].post(ONE, {"id": ids[(n * 7) % len(ids)]}, role="marketer")
            body = response.json()
            outcomes.append((response.status_code, body.get("errors", [])))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    ready = await gateways[0].client.get("/readyz")

    assert len(outcomes) == total
    assert [o for o in outcomes if o[0] != 200 or o[1]] == []
    assert server.poll() is not None, "redis-server was not killed"
    assert redis_keys_before_kill and redis_keys_before_kill[0] > 0, "Redis was not in use before the kill"
    assert ready.json()["checks"]["redis"] == "unreachable"
