"""Outbound pacing: stay under each SaaS quota, trusting the API's own headers when it sends them.

    pacer = WindowPacer(limit=100, window=10.0)    # HubSpot
    lease = await pacer.acquire(); response = ...; await pacer.release(response, lease)

Three shapes cover four APIs: a token bucket (Google Ads' per-customer requests), a fixed window
(HubSpot's 10-second window as a sliding log, corrected by ``X-HubSpot-RateLimit-*``) and a concurrency cap
(Mailchimp's 10 connections, GA4's 10 concurrent). Shopify's GraphQL Admin API is paced by query
cost, not by call, in ``shopify_pacing``.
These are per process; ``shared_pacing`` holds the Redis-backed pacers that every gateway instance
shares, which fall back to these when Redis is absent or down. ``acquire`` may return a lease that
``release`` hands back (a shared semaphore needs to know which slot to free).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx


class Pacer(Protocol):
    async def acquire(self) -> object: ...

    async def release(self, response: httpx.Response | None, lease: object = None) -> None: ...

    def retry_hint(self) -> float | None: ...


FreeSlots = Callable[[httpx.Response], int | None]


@dataclass(frozen=True, slots=True)
class WindowReading:
    """What one answer says of a fixed window: its size, what is left of it, its length (None: silent)."""

    limit: int | None = None
    remaining: int | None = None
    window: float | None = None


# (the answer's headers, the window's current size) -> the reading
WindowReader = Callable[[httpx.Headers, int], WindowReading]


def hubspot_window(headers: httpx.Headers, limit: int) -> WindowReading:
    """``X-HubSpot-RateLimit-Max``, ``-Remaining`` and ``-Interval-Milliseconds``."""
    try:
        size = headers.get("X-HubSpot-RateLimit-Max")
        remaining = headers.get("X-HubSpot-RateLimit-Remaining")
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        return WindowReading(int(size) if size is not None else None,
                             int(remaining) if remaining is not None else None,
                             int(interval) / 1000.0 if interval is not None else None)
    except ValueError:
        return WindowReading()


class ConcurrencyPacer:
    """At most ``limit`` requests in flight (Mailchimp: 10 simultaneous connections).

    With ``free_slots`` (GA4: its answers' ``concurrentRequests.remaining``), the limit follows what the
    API says, up or down: the slots it reports free plus the calls of ours that started before the one
    answered and are still running, which it certainly counted; calls started later may not have been
    counted, so they are left out, and the estimate is never above the API's own limit.
    """

    def __init__(self, limit: int, free_slots: FreeSlots | None = None) -> None:
        self.limit = limit
        self.free_slots = free_slots
        self._running: set[int] = set()
        self._started = 0
        self._changed = asyncio.Condition()

    @property
    def busy(self) -> int:
        return len(self._running)

    async def acquire(self) -> int:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._running) < self.limit)
            self._started += 1
            self._running.add(self._started)
            return self._started

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        async with self._changed:
            if isinstance(lease, int):
                self._running.discard(lease)
            elif self._running:
                self._running.discard(min(self._running))
            free = self.free_slots(response) if response is not None and self.free_slots is not None else None
            if free is not None and isinstance(lease, int):
                self.limit = max(1, free + sum(1 for started in self._running if started < lease))
            self._changed.notify_all()

    async def resize(self, limit: int) -> None:
        async with self._changed:
            self.limit = max(1, limit)
            self._changed.notify_all()

    def retry_hint(self) -> float | None:
        return 1.0


class WindowPacer:
    """HubSpot's window: ``limit`` requests per ``window`` seconds, following its headers.

    A sliding log, not a window of our own: each call counts from when it is sent until ``window``
    seconds after its answer. The API counts a call somewhere between those two instants, so however
    its window is aligned (HubSpot's rolls; a fixed one starts wherever it starts) no ``window``
    seconds of it ever see more than we allowed, whatever the latency. ``X-HubSpot-RateLimit-Max`` and
    ``-Interval-Milliseconds`` replace the configured size both ways (HubSpot's tiers allow 100 to 250
    per 10 s: the configured one is only the start); ``-Remaining`` adds the calls HubSpot counted
    that we did not make (another app on the same account) until they too have aged out.
    """

    def __init__(self, limit: int = 100, window: float = 10.0, headroom: int = 2,
                 reader: WindowReader | None = None) -> None:
        self.limit = limit
        self.window = window
        self.headroom = headroom
        # What an answer says of the window; HubSpot's headers unless a declared source reads its own.
        self.reader = reader or hubspot_window
        self._counted: list[float] = []  # heap: when each answered (or foreign) call stops counting
        self._in_flight = 0
        self._changed = asyncio.Condition()

    def used(self, now: float | None = None) -> int:
        """Calls that count against the window now: in flight, or answered less than ``window`` ago."""
        now = time.monotonic() if now is None else now
        while self._counted and self._counted[0] <= now:
            heapq.heappop(self._counted)
        return len(self._counted) + self._in_flight

    async def acquire(self) -> None:
        async with self._changed:
            while True:
                now = time.monotonic()
                if self.used(now) < self.limit - self.headroom:
                    self._in_flight += 1
                    return
                # Until the oldest answered call ages out, or an answer comes back.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._counted[0] - now if self._counted else None):
                        await self._changed.wait()

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        async with self._changed:
            self._in_flight = max(0, self._in_flight - 1)
            if response is not None:
                self._follow(response.headers)
            heapq.heappush(self._counted, time.monotonic() + self.window)
            self._changed.notify_all()

    def _follow(self, headers: httpx.Headers) -> None:
        reading = self.reader(headers, self.limit)
        if reading.limit is not None:
            self.limit = reading.limit
        if reading.window is not None:
            self.window = reading.window
        if reading.remaining is not None:
            now = time.monotonic()
            # What the API counted, less what we know of (this answer's call included): someone else's.
            foreign = (self.limit - reading.remaining) - (self.used(now) + 1)
            for _ in range(min(max(0, foreign), self.limit)):
                heapq.heappush(self._counted, now + self.window)

    def retry_hint(self) -> float | None:
        now = time.monotonic()
        self.used(now)
        return max(0.1, min(self.window, self._counted[0] - now)) if self._counted else 0.1


class TokenBucketPacer:
    """``capacity`` requests at once, refilled at ``rate`` per second (Google Ads' per-customer bucket)."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self._tokens = capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> object:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return None
                await asyncio.sleep((1.0 - self._tokens) / self.rate)

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        return None

    def retry_hint(self) -> float | None:
        return 1.0 / self.rate
