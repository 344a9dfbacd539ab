"""HubSpot's rate-limit window shared by every gateway instance through Redis, following its headers.

    window = SharedWindow(shared, "hubspot:3f2a", limit=100, window=10.0, lease_seconds=15,
                          fallback=WindowPacer(100, 10.0))
    lease = await window.acquire(); response = ...; await window.release(response, lease)

One hash per account (``harmonia:pace:{<account>}:window``: the window's size and length as HubSpot last said,
the calls counted in it, when it ends) and one sorted set of the calls in flight (leases that lapse, so a
crashed instance frees its own). Each answer's ``X-HubSpot-RateLimit-Max``/``-Interval-Milliseconds``
resize the window, and ``-Remaining`` sets the count to what HubSpot counted plus the calls still in
flight: the configured quota is where pacing starts, never a cap, and the count moves down as well as up.
Redis absent or down: the in-process ``fallback``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from typing import cast

import httpx

from harmonia.sources.pacing import Pacer
from harmonia.sources.shared import SharedRedis, SharedUnavailable

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: window hash, leases. ARGV: limit, window ms, headroom, lease id, lease ms.
# Returns 0 when the call may go (its lease taken), else the ms until the window turns.
_TAKE = _NOW + """
local w = redis.call('HMGET', KEYS[1], 'limit', 'window', 'used', 'ends')
local limit = tonumber(w[1]) or tonumber(ARGV[1])
local window = tonumber(w[2]) or tonumber(ARGV[2])
local used = tonumber(w[3]) or 0
local ends = tonumber(w[4]) or 0
if now >= ends then used = 0; ends = now + window end
local wait = 0
if used < limit - tonumber(ARGV[3]) then
  used = used + 1
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[4])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) * 2)
else
  wait = math.max(1, ends - now)
end
redis.call('HSET', KEYS[1], 'limit', limit, 'window', window, 'used', used, 'ends', ends)
redis.call('PEXPIRE', KEYS[1], window * 2 + 60000)
return wait
"""

# KEYS: window hash, leases. ARGV: lease id, then (optional) remaining, max, interval ms from the answer.
_GIVE_BACK = _NOW + """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] ~= nil and ARGV[2] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  local flying = redis.call('ZCARD', KEYS[2])
  local limit = tonumber(ARGV[3]) or tonumber(redis.call('HGET', KEYS[1], 'limit')) or 0
  local used = math.max(0, limit - tonumber(ARGV[2]) + flying)
  redis.call('HSET', KEYS[1], 'limit', limit, 'used', used)
  if tonumber(ARGV[4]) then redis.call('HSET', KEYS[1], 'window', tonumber(ARGV[4])) end
end
return 0
"""

_LOCAL = object()  # the lease of a call paced by the in-process fallback
POLL_MS = 100  # waiters look again this often: another instance's answer may have freed room


class SharedWindow:
    def __init__(self, shared: SharedRedis, name: str, *, limit: int, window: float, lease_seconds: float,
                 fallback: Pacer, headroom: int = 2) -> None:
        self.shared = shared
        # One hash tag: a Redis Cluster keeps both keys of the scripts on one node.
        self.keys = [f"harmonia:pace:{{{name}}}:window", f"harmonia:pace:{{{name}}}:flying"]
        self.limit = limit
        self.window_ms = int(window * 1000)
        self.lease_ms = int(lease_seconds * 1000)
        self.headroom = headroom
        self.fallback = fallback

    async def acquire(self) -> object:
        lease = uuid.uuid4().hex
        while True:
            try:
                wait_ms = cast(int, await self.shared.run(
                    _TAKE, self.keys, [self.limit, self.window_ms, self.headroom, lease, self.lease_ms]))
            except SharedUnavailable:
                await self.fallback.acquire()
                return _LOCAL
            if wait_ms <= 0:
                return lease
            # Jitter: waiters of all instances must not wake on the same millisecond.
            await asyncio.sleep(min(wait_ms, POLL_MS) / 1000.0 * random.uniform(1.0, 1.3))

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        # The fallback keeps following the headers either way, ready for a Redis outage.
        await self.fallback.release(response, None if lease is not _LOCAL else lease)
        if not isinstance(lease, str):
            return
        headers = response.headers if response is not None else httpx.Headers()
        args = [lease, headers.get("X-HubSpot-RateLimit-Remaining", ""), headers.get("X-HubSpot-RateLimit-Max", ""),
                headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")]
        with contextlib.suppress(SharedUnavailable):  # a lease we cannot give back lapses on its own
            await self.shared.run(_GIVE_BACK, self.keys, args)

    def retry_hint(self) -> float | None:
        return self.fallback.retry_hint()
