"""Pacing Shopify's GraphQL Admin API by query cost, following the throttle status it reports.

    pacer = CostPacer(maximum=2000.0, restore_rate=100.0)          # the configured fallback
    ticket = await pacer.acquire(152)          # waits until 152 points are there
    await pacer.settle(ticket, Report(status=ThrottleStatus(2000.0, 1848.0, 100.0), actual=40))

Shopify's bucket (points, restored every second) is per app and shop. Every answer says what is
left (``extensions.cost.throttleStatus``), and that is the truth in both directions: the bucket size
and restore rate are learned from it (a Plus shop restores ten times faster than the configured
Standard rate; a lowered rate slows us at once), and what is available becomes what it reported,
minus the points of our own calls still in flight. Answers can arrive out of order, so a report is
taken whole only when no other report arrived since its call was sent; an older one may only lower
the level. Before the first report, one call asks alone (the others wait for it), so a shop with a
smaller bucket than configured is never overrun by the first burst. ``SharedCostPacer`` keeps the
same state in Redis for every gateway instance, with this one as the fallback when Redis is down.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from harmonia.observability.metrics import record_quota_units

QUOTA = "cost_points"  # the quota's name on /metrics and in the catalogue
MIN_RATE = 0.1  # points a second: a reported 0 must not stall us forever, nor divide by zero
PROBE_PATIENCE = 2.0  # seconds the others wait for the first answer before going on with the configured bucket


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    maximum: float
    available: float
    restore_rate: float


@dataclass(frozen=True, slots=True)
class Report:
    """What an answer said: its throttle status, its actual cost, and whether it was THROTTLED."""

    status: ThrottleStatus | None = None
    actual: float | None = None
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class Ticket:
    cost: float
    epoch: int           # how many reports had been taken when the call was sent
    probe: bool = False  # the first call, sent alone to learn the bucket
    shared: bool = False


class CostPacing(Protocol):
    """``CostPacer`` or ``SharedCostPacer``: what the Admin API client needs."""

    @property
    def learned(self) -> bool: ...

    async def acquire(self, cost: float) -> Ticket: ...

    async def settle(self, ticket: Ticket, report: Report | None) -> None: ...

    def status(self) -> ThrottleStatus: ...


class CostPacer:
    """This process's model of the shop's bucket."""

    def __init__(self, maximum: float, restore_rate: float) -> None:
        self.maximum = maximum
        self.restore_rate = max(MIN_RATE, restore_rate)
        self.learned = False
        self._available = maximum
        self._stamp = time.monotonic()
        self._pending = 0.0
        self._epoch = 0
        self._probe: asyncio.Future[None] | None = None
        self._lock = asyncio.Lock()

    def available(self) -> float:
        """Points there now, by the last report and the restore rate since."""
        return min(self.maximum, self._available + (time.monotonic() - self._stamp) * self.restore_rate)

    async def wait_for_probe(self) -> bool:
        """Wait while the first call learns the bucket; True when this caller must be that call. A slow
        first answer (a slow shop, not a spent bucket) holds the others back only ``PROBE_PATIENCE``."""
        while not self.learned:
            if self._probe is None:
                self._probe = asyncio.get_running_loop().create_future()
                return True
            try:
                await asyncio.wait_for(asyncio.shield(self._probe), PROBE_PATIENCE)
            except TimeoutError:
                return False
        return False

    async def acquire(self, cost: float) -> Ticket:
        probe = await self.wait_for_probe()
        try:
            async with self._lock:  # one waiter at a time, in arrival order
                while True:
                    level = self.available()
                    if level >= cost:
                        break
                    await asyncio.sleep((cost - level) / self.restore_rate)
                self._available, self._stamp = level - cost, time.monotonic()
                self._pending += cost
                return Ticket(cost, self._epoch, probe)
        except BaseException:
            if probe:
                self._end_probe()
            raise

    async def settle(self, ticket: Ticket, report: Report | None) -> None:
        self.take(ticket, report)

    def take(self, ticket: Ticket, report: Report | None) -> None:
        """Fold an answer (or None: no answer came) into the model."""
        if report is not None and report.actual is not None:
            record_quota_units("shopify", QUOTA, report.actual)  # the burn-rate alerts' numerator
        self._pending = max(0.0, self._pending - ticket.cost)
        level = self.available()
        status = report.status if report else None
        if status is not None:
            self.maximum, self.restore_rate = status.maximum, max(MIN_RATE, status.restore_rate)
            told = status.available - self._pending
            level = told if ticket.epoch == self._epoch else min(level, told)
            self._epoch += 1
            self.learned = True
        elif report is not None and report.throttled:
            # Refused without saying what is left: less than this call's cost, and nothing was charged.
            level = min(level + ticket.cost, max(0.0, ticket.cost - 1))
        elif report is not None and report.actual is not None:
            level += ticket.cost - report.actual  # Shopify refunds what was requested but not used
        self._available, self._stamp = min(self.maximum, level), time.monotonic()
        if ticket.probe:
            self._end_probe()

    def _end_probe(self) -> None:
        # Whatever the first answer said (or if none came), the others go on: with what was learned,
        # or with the configured bucket.
        self.learned = True
        if self._probe is not None and not self._probe.done():
            self._probe.set_result(None)
        self._probe = None

    def status(self) -> ThrottleStatus:
        return ThrottleStatus(self.maximum, self.available(), self.restore_rate)
