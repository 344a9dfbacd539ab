"""/readyz answers anyone without a token, from probes at most a few seconds old.

The attacker here sends /readyz as fast as they can, to make the gateway call every SaaS API on the
company's quotas; an operator's load balancer still sees a source go away within the interval.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from harmonia.settings import HttpSettings
from tests.conftest import SOURCES
from tests.servers import Servers, stop

INTERVAL = HttpSettings().readiness_probe_seconds


def probes_seen(stats: dict[str, Any]) -> dict[str, int]:
    """Answers each simulator gave since the last reset (a probe is a GET of the source's root)."""
    return {source: sum(stats[source]["statuses"].values()) for source in SOURCES}


async def test_a_flood_of_readyz_makes_one_round_of_upstream_calls_per_interval(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        simulators = servers.simulators()
        gateway = servers.gateway(simulators, {})
        async with httpx.AsyncClient(timeout=30) as client:
            await client.post(f"{simulators}/__reset")
            started = time.monotonic()
            together = await asyncio.gather(*(client.get(f"{gateway}/readyz") for _ in range(20)))
            one_by_one = [await client.get(f"{gateway}/readyz") for _ in range(20)]
            elapsed = time.monotonic() - started
            seen = probes_seen((await client.get(f"{simulators}/__stats")).json())

    answers = [*together, *one_by_one]
    assert all(a.status_code == 200 and a.json()["status"] == "ready" for a in answers), answers[0].text
    rounds = 1 + int(elapsed // INTERVAL)  # a new round may start each time the last one is INTERVAL old
    assert all(1 <= n <= rounds for n in seen.values()), (seen, elapsed)


def test_readyz_reports_a_source_gone_within_the_interval(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        simulators = servers.simulators()
        gateway = servers.gateway(simulators, {"HARMONIA_HTTP__READINESS_PROBE_SECONDS": "0.5"})
        assert httpx.get(f"{gateway}/readyz").json()["status"] == "ready"
        stop(servers.procs[0])  # every SaaS API goes away
        gone_at = time.monotonic()
        while (answer := httpx.get(f"{gateway}/readyz", timeout=10)).status_code == 200:
            assert time.monotonic() - gone_at < 10, "still ready 10 s after every source went away"
            time.sleep(0.1)

    body = answer.json()
    assert answer.status_code == 503 and body["status"] == "not ready"
    assert {body["checks"][s] for s in SOURCES} == {"unreachable"}
    assert body["checked_seconds_ago"] <= 0.5 + 2.5  # the interval, plus one round's own probe timeouts
