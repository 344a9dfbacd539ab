"""Budgets shared by every gateway process: the leaky bucket as one atomic Redis Lua script.

    budget = RedisBudget.connect(RedisTarget.parse("redis://127.0.0.1:6379/0"))
    state = await budget.reserve("ana|analyst", 120, Bucket(20000, 1000))

Refill, check and take happen inside one script, so two processes reserving at once can never
both spend the last points; the clock is Redis's own (``TIME``), so processes with skewed clocks
agree. A key expires once its bucket would be full again (a full bucket and no key are the same).
One key per client and one script over it: it runs on a Redis Cluster as on one server.
"""

from __future__ import annotations

from typing import Any

from harmonia.limits.budget import Bucket, BucketState
from harmonia.shared_state import HOT, Client, RedisTarget, open_client, with_timeout

KEY_PREFIX = "harmonia:budget:"

# ARGV: operation (reserve | adjust | peek), points, maximum, restore rate per second.
# Returns {allowed (1/0), level as a string} (Lua numbers would come back truncated to integers).
BUCKET_SCRIPT = """
local op = ARGV[1]
local points = tonumber(ARGV[2])
local maximum = tonumber(ARGV[3])
local rate = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'level', 'stamp')
local level = tonumber(saved[1])
local stamp = tonumber(saved[2])
if level == nil or stamp == nil then
  level = maximum
  stamp = now
end
level = math.min(maximum, level + math.max(0, now - stamp) * rate)
local allowed = 1
if op == 'reserve' then
  if points > level then allowed = 0 else level = level - points end
elseif op == 'adjust' then
  level = math.min(maximum, level + points)
end
if op ~= 'peek' then
  redis.call('HSET', KEYS[1], 'level', string.format('%.6f', level), 'stamp', string.format('%.6f', now))
  local ttl = 86400000
  if rate > 0 then ttl = math.ceil((maximum - level) / rate * 1000) + 1000 end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {allowed, string.format('%.6f', level)}
"""


class RedisBudget:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._script = client.register_script(BUCKET_SCRIPT)

    @classmethod
    def connect(cls, target: RedisTarget, timeout: float = 0.5) -> RedisBudget:
        # Short timeouts: a budget that cannot answer quickly is worse than the in-process fallback.
        return cls(open_client(target, with_timeout(HOT, timeout)))

    @classmethod
    def from_url(cls, url: str, timeout: float = 0.5) -> RedisBudget:
        """A standalone Redis at ``url``."""
        return cls.connect(RedisTarget.parse(url), timeout)

    async def _run(self, op: str, client: str, points: float, bucket: Bucket) -> BucketState:
        answer: Any = await self._script(keys=[KEY_PREFIX + client],
                                         args=[op, repr(float(points)), repr(float(bucket.maximum)),
                                               repr(float(bucket.restore_rate))])
        allowed, level = answer
        return BucketState(bool(int(allowed)), float(level), bucket)

    async def reserve(self, client: str, points: float, bucket: Bucket) -> BucketState:
        return await self._run("reserve", client, points, bucket)

    async def adjust(self, client: str, points: float, bucket: Bucket) -> BucketState:
        return await self._run("adjust", client, points, bucket)

    async def peek(self, client: str, bucket: Bucket) -> BucketState:
        return await self._run("peek", client, 0, bucket)

    async def aclose(self) -> None:
        await self.client.aclose()
