"""HubSpot's rate-limit window shared by every gateway instance through Redis, following its headers.

    window = SharedWindow(shared, "hubspot:3f2a", limit=100, window=10.0, lease_seconds=15,
                          fallback=WindowPacer(100, 10.0))
    lease = await window.acquire(); response = ...; await window.release(response, lease)

One hash per account (``harmonia:pace:{<account>}:window``: the window's size and length as HubSpot
last said), one sorted set of the calls in flight (leases that lapse, so a crashed instance frees its
own) and one of the calls answered, each until ``window`` after its answer: a sliding log, as
``WindowPacer``'s, so no alignment of HubSpot's window and no latency lets a window see more than the
limit. Each answer's ``X-HubSpot-RateLimit-Max``/``-Interval-Milliseconds`` resize the window both ways
(the configured quota is where pacing starts, never a cap), and ``-Remaining`` adds the calls HubSpot
counted that no instance made (another app on the account) until they age out.
Redis absent or down: the in-process ``fallback``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from typing import cast

import httpx

from harmonia.sources.pacing import Pacer, WindowReader, WindowReading, hubspot_window
from harmonia.sources.shared import SharedRedis, SharedUnavailable

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: window hash, leases, answered. ARGV: limit, window ms, headroom, lease id, lease ms.
# Returns 0 when the call may go (its lease taken), else the ms to wait before asking again.
_TAKE = _NOW + """
local w = redis.call('HMGET', KEYS[1], 'limit', 'window')
local limit = tonumber(w[1]) or tonumber(ARGV[1])
local window = tonumber(w[2]) or tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local used = redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])
local wait = 0
if used < limit - tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[4])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) * 2)
else
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if oldest[2] then wait = math.max(1, tonumber(oldest[2]) - now) else wait = 50 end
end
redis.call('HSET', KEYS[1], 'limit', limit, 'window', window)
redis.call('PEXPIRE', KEYS[1], window * 2 + 60000)
return wait
"""

# KEYS: window hash, leases, answered. ARGV: lease id, configured window ms, then (optional) remaining,
# max, interval ms from the answer.
_GIVE_BACK = _NOW + """
redis.call('ZREM', KEYS[2], ARGV[1])
local w = redis.call('HMGET', KEYS[1], 'limit', 'window')
local limit = tonumber(ARGV[4]) or tonumber(w[1]) or 0
local window = tonumber(ARGV[5]) or tonumber(w[2]) or tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'limit', limit, 'window', window)
redis.call('ZADD', KEYS[3], now + window, ARGV[1])
if tonumber(ARGV[3]) then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  local known = redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])
  local foreign = math.min(limit, (limit - tonumber(ARGV[3])) - known)
  for i = 1, foreign do redis.call('ZADD', KEYS[3], now + window, 'foreign:' .. ARGV[1] .. ':' .. i) end
end
redis.call('PEXPIRE', KEYS[3], window + 60000)
return 0
"""

_LOCAL = object()  # the lease of a call paced by the in-process fallback
POLL_MS = 100  # waiters look again this often: another instance's answer may have freed room


class SharedWindow:
    def __init__(self, shared: SharedRedis, name: str, *, limit: int, window: float, lease_seconds: float,
                 fallback: Pacer, headroom: int = 2, reader: WindowReader = hubspot_window) -> None:
        self.shared = shared
        self.reader = reader
        # One hash tag: a Redis Cluster keeps both keys of the scripts on one node.
        self.keys = [f"harmonia:pace:{{{name}}}:window", f"harmonia:pace:{{{name}}}:flying",
                     f"harmonia:pace:{{{name}}}:answered"]
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
        reading = self.reader(response.headers, self.limit) if response is not None else WindowReading()
        args = [lease, str(self.window_ms), _arg(reading.remaining), _arg(reading.limit),
                _arg(int(reading.window * 1000) if reading.window is not None else None)]
        with contextlib.suppress(SharedUnavailable):  # a lease we cannot give back lapses on its own
            await self.shared.run(_GIVE_BACK, self.keys, args)

    def retry_hint(self) -> float | None:
        return self.fallback.retry_hint()


def _arg(value: int | None) -> str:
    return "" if value is None else str(value)
