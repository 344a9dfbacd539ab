"""Outbound pacing that every gateway instance shares through Redis, one budget per SaaS quota.

    bucket = SharedTokenBucket(shared, "hubspot", capacity=20, rate=7.8, fallback=WindowPacer(100, 10.0))
    lease = await bucket.acquire(); response = ...; await bucket.release(response, lease)
    slots = SharedSemaphore(shared, "mailchimp", limit=10, lease_seconds=30, fallback=ConcurrencyPacer(10))

A token bucket (Lua, Redis' own clock, so instances on different hosts agree) for the rate quotas
(Shopify, HubSpot, Google Ads); a semaphore of expiring leases (a sorted set) for the concurrency
quotas (Mailchimp's 10 connections, GA4's 10 concurrent requests): a crashed instance's leases lapse
on their own. When the API reports what is left (``correction``), the shared bucket is lowered to it,
so other clients of the same account count too. Redis absent or down: the in-process ``fallback``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from typing import cast

import httpx
import redis.asyncio as redis

from harmonia.sources.pacing import Pacer
from harmonia.sources.shared import SharedRedis, SharedUnavailable

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
"""

# ARGV: capacity, tokens per ms. Returns 0 when a token was taken, else the ms until one is there.
_TAKE = _NOW + """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(b[1])
local stamp = tonumber(b[2])
if tokens == nil then tokens = cap; stamp = now end
tokens = math.min(cap, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 60000)
return wait
"""

# ARGV: the tokens the API says are left. The bucket never holds more than that.
_LOWER = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens ~= nil and tokens > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'tokens', tostring(math.max(0, tonumber(ARGV[1]))))
end
return 0
"""

# ARGV: limit, lease ms, lease id. Returns 1 when a slot was leased.
_LEASE = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""

_LOCAL = object()  # the lease of a call paced by the in-process fallback

Correction = Callable[[httpx.Response], float | None]


class SharedTokenBucket:
    """``capacity`` calls at once, ``rate`` per second, shared by every instance using ``key``."""

    def __init__(self, shared: SharedRedis, name: str, *, capacity: float, rate: float, fallback: Pacer,
                 correction: Correction | None = None) -> None:
        self.shared = shared
        self.key = f"harmonia:pace:{name}"
        self.capacity = capacity
        self.rate = rate
        self.fallback = fallback
        self.correction = correction

    async def acquire(self) -> object:
        while True:
            try:
                wait_ms = cast(int, await self.shared.run(_TAKE, [self.key], [self.capacity, self.rate / 1000.0]))
            except SharedUnavailable:
                await self.fallback.acquire()
                return _LOCAL
            if wait_ms <= 0:
                return None
            # Jitter: waiters of all instances must not wake on the same millisecond.
            await asyncio.sleep(wait_ms / 1000.0 * random.uniform(1.0, 1.3))

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        # The fallback keeps following the API's headers either way, ready for a Redis outage.
        await self.fallback.release(response, None)
        if lease is _LOCAL or response is None or self.correction is None:
            return
        left = self.correction(response)
        if left is not None:
            with contextlib.suppress(SharedUnavailable):
                await self.shared.run(_LOWER, [self.key], [left])

    def retry_hint(self) -> float | None:
        return self.fallback.retry_hint()


class SharedSemaphore:
    """At most ``limit`` calls in flight across every instance; a lease lapses after ``lease_seconds``."""

    def __init__(self, shared: SharedRedis, name: str, *, limit: int, lease_seconds: float, fallback: Pacer) -> None:
        self.shared = shared
        self.key = f"harmonia:slots:{name}"
        self.limit = limit
        self.lease_ms = int(lease_seconds * 1000)
        self.fallback = fallback
        # No process can use more than ``limit`` slots: queue here, so at most ``limit`` tasks poll Redis.
        self._local = asyncio.Semaphore(limit)

    async def acquire(self) -> object:
        await self._local.acquire()
        lease = uuid.uuid4().hex
        delay = 0.005
        try:
            while True:
                try:
                    if await self.shared.run(_LEASE, [self.key], [self.limit, self.lease_ms, lease]) == 1:
                        return lease
                except SharedUnavailable:
                    await self.fallback.acquire()
                    return _LOCAL
                await asyncio.sleep(delay * random.uniform(1.0, 1.5))
                delay = min(0.05, delay * 2)
        except BaseException:
            self._local.release()
            raise

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        self._local.release()
        if lease is _LOCAL:
            await self.fallback.release(response, None)
        elif isinstance(lease, str):
            # A lease we cannot free lapses on its own.
            with contextlib.suppress(redis.RedisError, OSError, TimeoutError):
                await self.shared.client.zrem(self.key, lease)

    def retry_hint(self) -> float | None:
        return self.fallback.retry_hint()
