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
from dataclasses import dataclass
from typing import cast

import httpx

from harmonia.sources.pacing import ConcurrencyPacer, FreeSlots, Pacer
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

# KEYS: leases, the learned limit. ARGV: configured limit, lease ms, lease id. Returns 1 when a slot was leased.
_LEASE = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(redis.call('GET', KEYS[2])) or tonumber(ARGV[1])
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""

# KEYS: leases, the learned limit. ARGV: lease id, the slots the API says are free ('' if it did not say).
# The limit learned: those free slots plus the leases taken before this one and still held (the API
# counted those); kept an hour. Returns the limit in force (0: unchanged).
_GIVE_BACK = _NOW + """
local started = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '' or not started then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = math.max(1, tonumber(ARGV[2]) + redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. started))
redis.call('SET', KEYS[2], limit, 'PX', 3600000)
return limit
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
    """At most ``limit`` calls in flight across every instance; a lease lapses after ``lease_seconds``.

    With ``free_slots`` (GA4), the limit is learned from the API's answers, as ``ConcurrencyPacer``
    learns it, and shared: every instance leases against the learned limit (for an hour, then the
    configured one until the next answer)."""

    def __init__(self, shared: SharedRedis, name: str, *, limit: int, lease_seconds: float, fallback: Pacer,
                 free_slots: FreeSlots | None = None) -> None:
        self.shared = shared
        # One hash tag: a Redis Cluster keeps both keys of the scripts on one node.
        self.keys = [f"harmonia:slots:{{{name}}}", f"harmonia:slots:{{{name}}}:limit"]
        self.limit = limit
        self.lease_ms = int(lease_seconds * 1000)
        self.fallback = fallback
        self.free_slots = free_slots
        # No process can use more than the limit: queue here, so at most that many tasks poll Redis.
        self._local = ConcurrencyPacer(limit)

    async def acquire(self) -> object:
        local = await self._local.acquire()
        lease = uuid.uuid4().hex
        delay = 0.005
        try:
            while True:
                try:
                    if await self.shared.run(_LEASE, self.keys, [self.limit, self.lease_ms, lease]) == 1:
                        return _Lease(local, lease)
                except SharedUnavailable:
                    return _Lease(local, None, await self.fallback.acquire())
                await asyncio.sleep(delay * random.uniform(1.0, 1.5))
                delay = min(0.05, delay * 2)
        except BaseException:
            await self._local.release(None, local)
            raise

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        if not isinstance(lease, _Lease):
            return
        await self._local.release(None, lease.local)
        if lease.redis is None:
            await self.fallback.release(response, lease.fallback)
            return
        free = self.free_slots(response) if response is not None and self.free_slots is not None else None
        try:
            # A lease we cannot free lapses on its own.
            limit = await self.shared.run(_GIVE_BACK, self.keys, [lease.redis, "" if free is None else free])
        except SharedUnavailable:
            return
        if isinstance(limit, int) and limit > 0:
            await self._local.resize(limit)

    def retry_hint(self) -> float | None:
        return self.fallback.retry_hint()


@dataclass(frozen=True, slots=True)
class _Lease:
    local: int                # the in-process gate's lease
    redis: str | None         # the shared lease; None: Redis was down, the fallback paced this call
    fallback: object = None
