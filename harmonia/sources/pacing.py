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
import time
from typing import Protocol

import httpx


class Pacer(Protocol):
    async def acquire(self) -> object: ...

    async def release(self, response: httpx.Response | None, lease: object = None) -> None: ...

    def retry_hint(self) -> float | None: ...


class ConcurrencyPacer:
    """At most ``limit`` requests in flight (Mailchimp: 10 simultaneous connections)."""

    def __init__(self, limit: int) -> None:
        self._semaphore = asyncio.Semaphore(limit)

    async def acquire(self) -> None:
        await self._semaphore.acquire()

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        self._semaphore.release()

    def retry_hint(self) -> float | None:
        return 1.0


class WindowPacer:
    """HubSpot's fixed window: ``limit`` requests per ``window`` seconds, corrected by its headers."""

    def __init__(self, limit: int = 100, window: float = 10.0, headroom: int = 2) -> None:
        self.limit = limit
        self.window = window
        self.headroom = headroom
        self._window_start = time.monotonic()
        self._used = 0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now - self._window_start >= self.window:
                    self._window_start, self._used = now, 0
                if self._used < self.limit - self.headroom:
                    self._used += 1
                    return
                await asyncio.sleep(self._window_start + self.window - now)

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        if response is None:
            return
        headers = response.headers
        try:
            if (limit := headers.get("X-HubSpot-RateLimit-Max")) is not None:
                self.limit = int(limit)
            if (interval := headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")) is not None:
                self.window = int(interval) / 1000.0
            if (remaining := headers.get("X-HubSpot-RateLimit-Remaining")) is not None:
                self._used = max(self._used, self.limit - int(remaining))
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
