"""Shopify's cost bucket as every gateway instance sees it, kept in Redis.

    pacer = SharedCostPacer(shared, "shopify:ab12cd", local=CostPacer(2000.0, 100.0))
    ticket = await pacer.acquire(152); ...; await pacer.settle(ticket, report)

The same model as ``CostPacer`` (learned bucket size and restore rate, the level each answer
reports minus the points still in flight, out-of-order answers only lowering it), in one Redis hash
changed by Lua on Redis' own clock, so instances on different hosts agree and their calls in flight
count against each other. Points in flight lapse after ``lease_seconds`` without any call (a crashed
instance's). Redis absent or down: the instance's own ``CostPacer``, which keeps learning either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import cast

from harmonia.sources.shared import SharedRedis, SharedUnavailable
from harmonia.sources.shopify_pacing import MIN_RATE, CostPacer, Report, ThrottleStatus, Ticket

_LOAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local h = redis.call('HMGET', KEYS[1], 'available', 'stamp', 'maximum', 'rate', 'pending', 'epoch', 'touched')
local maximum = tonumber(h[3]) or tonumber(ARGV[2])
local rate = tonumber(h[4]) or tonumber(ARGV[3])
local available = tonumber(h[1]) or maximum
local stamp = tonumber(h[2]) or now
local pending = tonumber(h[5]) or 0
local epoch = tonumber(h[6]) or 0
local touched = tonumber(h[7]) or now
if now - touched > tonumber(ARGV[4]) then pending = 0 end
local level = math.min(maximum, available + math.max(0, now - stamp) * rate / 1000)
local function store()
  redis.call('HSET', KEYS[1], 'available', tostring(level), 'stamp', tostring(now), 'maximum', tostring(maximum),
             'rate', tostring(rate), 'pending', tostring(pending), 'epoch', tostring(epoch), 'touched', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(maximum / rate * 1000) + 60000)
end
"""

# ARGV: cost, fallback maximum, fallback rate, lease ms. Returns {1, epoch} or {0, ms to wait}.
_ACQUIRE = _LOAD + """
local cost = tonumber(ARGV[1])
if level < cost then
  store()
  return {0, math.ceil((cost - level) * 1000 / rate)}
end
level = level - cost
pending = pending + cost
store()
return {1, epoch}
"""

# ARGV: cost, fallback maximum, fallback rate, lease ms, epoch at send, kind (status|throttled|actual|none),
#       reported available, reported maximum, reported rate, actual cost.
_SETTLE = _LOAD + """
local cost = tonumber(ARGV[1])
pending = math.max(0, pending - cost)
local kind = ARGV[6]
if kind == 'status' then
  maximum = tonumber(ARGV[8])
  rate = math.max(tonumber(ARGV[9]), 0.1)
  local told = tonumber(ARGV[7]) - pending
  if tonumber(ARGV[5]) == epoch then level = told else level = math.min(level, told) end
  epoch = epoch + 1
elseif kind == 'throttled' then
  level = math.min(level + cost, math.max(0, cost - 1))
elseif kind == 'actual' then
  level = level + cost - tonumber(ARGV[10])
end
level = math.min(maximum, level)
store()
return 0
"""


class SharedCostPacer:
    def __init__(self, shared: SharedRedis, name: str, *, local: CostPacer, lease_seconds: float = 30.0) -> None:
        self.shared = shared
        self.key = f"harmonia:pace:{name}"
        self.local = local
        self.lease_ms = int(lease_seconds * 1000)

    @property
    def learned(self) -> bool:
        return self.local.learned

    def status(self) -> ThrottleStatus:
        return self.local.status()

    def _fallback(self) -> list[float]:
        return [self.local.maximum, max(MIN_RATE, self.local.restore_rate), self.lease_ms]

    async def acquire(self, cost: float) -> Ticket:
        probe = await self.local.wait_for_probe()
        try:
            while True:
                try:
                    granted, value = cast(list[int], await self.shared.run(
                        _ACQUIRE, [self.key], [cost, *self._fallback()]))
                except SharedUnavailable:
                    if probe:  # the local model goes on with what it knows
                        self.local.take(Ticket(0.0, 0, probe=True), None)
                        probe = False
                    return await self.local.acquire(cost)
                if granted == 1:
                    return Ticket(cost, int(value), probe, shared=True)
                # Jitter: the waiters of every instance must not wake on the same millisecond.
                await asyncio.sleep(value / 1000.0 * random.uniform(1.0, 1.2))
        except BaseException:
            if probe:
                self.local.take(Ticket(0.0, 0, probe=True), None)
            raise

    async def settle(self, ticket: Ticket, report: Report | None) -> None:
        if not ticket.shared:
            self.local.take(ticket, report)
            return
        # The local model learns too, so a Redis outage falls back to a bucket that is already right.
        self.local.take(Ticket(0.0, -1, ticket.probe), report)
        status = report.status if report else None
        kind = ("status" if status else "throttled" if report and report.throttled
                else "actual" if report and report.actual is not None else "none")
        args = [ticket.cost, *self._fallback(), ticket.epoch, kind,
                status.available if status else 0, status.maximum if status else 0,
                status.restore_rate if status else 0, report.actual if report and report.actual is not None else 0]
        with contextlib.suppress(SharedUnavailable):
            await self.shared.run(_SETTLE, [self.key], args)
