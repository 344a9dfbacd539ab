"""Outbound pacing: stay under each SaaS quota, trusting the API's own headers when it sends them.

    pacer = WindowPacer(limit=100, window=10.0)    # HubSpot
    lease = await pacer.acquire(); response = ...; await pacer.release(response, lease)

Three shapes cover four APIs: a token bucket (Google Ads' per-customer requests), a fixed window
(HubSpot's 10-second window, corrected by ``X-HubSpot-RateLimit-*``) and a concurrency cap
(Mailchimp's 10 connections, GA4's 10 concurrent). Shopify's GraphQL Admin API is paced by query
cost, not by call, in ``shopify_pacing``.
These are per process; ``shared_pacing`` holds the Redis-backed pacers that every gateway instance
shares, which fall back to these when Redis is absent or down. ``acquire`` may return a lease that
``release`` hands back (a shared semaphore needs to know which slot to free).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol

import httpx


class Pacer(Protocol):
    async def acquire(self) -> object: ...

    async def release(self, response: httpx.Response | None, lease: object = None) -> None: ...

    def retry_hint(self) -> float | None: ...


FreeSlots = Callable[[httpx.Response], int | None]


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
    """HubSpot's window: ``limit`` requests per ``window`` seconds, following its headers both ways.

    ``X-HubSpot-RateLimit-Max`` and ``-Interval-Milliseconds`` replace the configured size (HubSpot's
    tiers allow 100 to 250 per 10 s: the configured one is only the start); ``-Remaining`` sets what
    is used to what HubSpot counted plus our calls still in flight, so pacing speeds up as well as
    slows down to what HubSpot says is left.
    """

    def __init__(self, limit: int = 100, window: float = 10.0, headroom: int = 2) -> None:
        self.limit = limit
        self.window = window
        self.headroom = headroom
        self._window_start = time.monotonic()
        self._used = 0
        self._in_flight = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            while True:
                now = time.monotonic()
                if now - self._window_start >= self.window:
                    self._window_start, self._used = now, 0
                if self._used < self.limit - self.headroom:
                    self._used += 1
                    self._in_flight += 1
                    return
                # Until the window turns, or an answer says more is left.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._window_start + self.window - now):
                        await self._changed.wait()

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        async with self._changed:
            self._in_flight = max(0, self._in_flight - 1)
            if response is not None:
                self._follow(response.headers)
            self._changed.notify_all()

    def _follow(self, headers: httpx.Headers) -> None:
        try:
            if (limit := headers.get("X-HubSpot-RateLimit-Max")) is not None:
                self.limit = int(limit)
            if (interval := headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")) is not None:
                self.window = int(interval) / 1000.0
            if (remaining := headers.get("X-HubSpot-RateLimit-Remaining")) is not None:
                used = self.limit - int(remaining) + self._in_flight
                if used < self._used - self._in_flight:
                    self._window_start = time.monotonic()  # HubSpot's window moved on before ours
                self._used = max(0, used)
        except ValueError:
            return

    def retry_hint(self) -> float | None:
        return max(0.1, self._window_start + self.window - time.monotonic())


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
