"""``/readyz`` from probe state: each dependency probed at most every few seconds, whoever asks.

    readiness = Readiness({"hubspot": reachable(client), "redis": redis_ping(target)}, interval=5.0)
    checks, age = await readiness.checks()     # ({"hubspot": "ok", "redis": "unreachable"}, 1.2)

``/readyz`` answers without a token: probing on every request would let anyone make the gateway call
each SaaS API (on their quotas) as fast as they can send requests. A round of probes runs when the
last one is ``interval`` seconds old; requests that arrive meanwhile wait for that one round, and
its result answers every request until it is ``interval`` old in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Mapping

import httpx

from harmonia.shared_state import ADMIN, FAILURES, RedisTarget, open_client, with_timeout

Probe = Callable[[], Awaitable[str]]
UNREACHABLE = "unreachable"


class Readiness:
    def __init__(self, probes: Mapping[str, Probe] | Callable[[], Mapping[str, Probe]], *, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # A mapping, or a function giving the probes of each round (sources applied at run time included).
        self._probes = probes if callable(probes) else (lambda fixed=dict(probes): fixed)
        self._interval = interval
        self._clock = clock
        self._checked: dict[str, str] = {}
        self._checked_at = -math.inf
        self._round: asyncio.Task[None] | None = None

    async def checks(self) -> tuple[dict[str, str], float]:
        """Each dependency's state, and how many seconds ago it was probed."""
        if self._clock() - self._checked_at >= self._interval:
            if self._round is None:
                self._round = asyncio.ensure_future(self._probe_all())
            # Shielded: a caller that goes away does not cancel the round the others wait for.
            await asyncio.shield(self._round)
        return dict(self._checked), max(0.0, self._clock() - self._checked_at)

    async def _probe_all(self) -> None:
        try:
            probes = dict(self._probes())
            names = list(probes)
            results = await asyncio.gather(*(_guarded(probe) for probe in probes.values()))
            self._checked = dict(zip(names, results, strict=True))
            self._checked_at = self._clock()
        finally:
            self._round = None

    async def aclose(self) -> None:
        if self._round is not None:
            self._round.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._round


async def _guarded(probe: Probe) -> str:
    try:
        return await probe()
    except Exception:  # a probe that breaks says the dependency is not usable, never a 500
        return UNREACHABLE


def reachable(client: httpx.AsyncClient) -> Probe:
    """Any HTTP answer means the source is reachable; only transport failures count against it."""

    async def probe() -> str:
        try:
            await client.get("/", timeout=2.0)
        except httpx.HTTPError:
            return UNREACHABLE
        return "ok"

    return probe


def redis_ping(target: RedisTarget) -> Probe:
    """Redis answers a PING (through the sentinels' master, or the cluster's nodes, as configured)."""
    async def probe() -> str:
        client = open_client(target, with_timeout(ADMIN, 1.0))
        try:
            await client.ping()
        except FAILURES:
            return UNREACHABLE
        finally:
            with contextlib.suppress(*FAILURES):
                await client.aclose()
        return "ok"

    return probe
