"""Two gateway processes on one real Redis meter a client in one bucket, as two instances behind a balancer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SOURCES, TEST_SECRET_ENV, token_for

ROOT = Path(__file__).resolve().parents[2]
ORDERS_PAGE = "{ orders(first: 100) { edges { node { name } } } }"  # 201 points


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(url)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def two_gateways(redis_url: str) -> Iterator[tuple[str, str]]:
    """Simulators and two gateway processes, configured only by the contract's env vars."""
    sim_port, ports = _free_port(), (_free_port(), _free_port())
    base = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIA_")}
    base["PYTHONPATH"] = os.environ.get("PYTHONPATH", str(ROOT))
    env = dict(base, **TEST_SECRET_ENV, HARMONIA_REDIS_URL=redis_url, HARMONIA_LIMITS__BUDGET_MAXIMUM="1000",
               HARMONIA_LIMITS__BUDGET_RESTORE_RATE="0.01")
    for name in SOURCES:
        env[f"HARMONIA_SOURCES__{name.upper()}__BASE_URL"] = f"http://127.0.0.1:{sim_port}/{name}"
    started: list[subprocess.Popen[bytes]] = []
    try:
        simulators = subprocess.Popen([sys.executable, "-m", "harmonia.cli", "simulate", "--port", str(sim_port),
                                       "--no-rate-limits"], env=base, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(simulators)
        for port in ports:
            started.append(subprocess.Popen([sys.executable, "-m", "harmonia.cli", "serve", "--port", str(port)],
                                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        _wait_up(f"http://127.0.0.1:{sim_port}/__stats", simulators)
        for port, proc in zip(ports, started[1:], strict=True):
            _wait_up(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{ports[0]}/graphql", f"http://127.0.0.1:{ports[1]}/graphql"
    finally:
        for proc in reversed(started):
            _stop(proc)


def _ask(url: str, token: str) -> httpx.Response:
    return httpx.post(url, json={"query": ORDERS_PAGE}, headers={"Authorization": f"Bearer {token}"},
                      timeout=30.0)


def test_two_processes_share_one_clients_bucket_through_redis(two_gateways: tuple[str, str]) -> None:
    first, second = two_gateways
    client = token_for("marketer", sub=f"shared-{uuid.uuid4().hex[:8]}")

    levels = []
    for url in (first, second, first, second):
        answer = _ask(url, client)
        assert answer.status_code == 200, answer.text
        levels.append(answer.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"])
    # Each answer sees the other process's spending: one bucket, 201 points a query.
    assert levels == [799, 598, 397, 196]

    throttled = _ask(second, client)
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert int(throttled.headers["Retry-After"]) >= 1
    assert _ask(first, client).status_code == 429

    other = _ask(second, token_for("marketer", sub=f"other-{uuid.uuid4().hex[:8]}"))
    assert other.status_code == 200
    assert other.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 799
