"""GA4's property token quotas, metered from what GA4 says is left, so Harmonia stops before GA4 says 429.

    meter = PropertyQuotaMeter(headroom=100)
    await meter.check()                                    # UpstreamRateLimited while a quota is (nearly) spent
    await meter.observe([report.get("propertyQuota")], sent_at)  # after each answer; absent: nothing learned
    await meter.exhausted_by(google_error_message, sent_at)     # a 429 RESOURCE_EXHAUSTED naming a token quota

GA4 sends no rate-limit headers. Every answer to a request with ``returnPropertyQuota: true`` carries
what is left of the property's tokens per hour, per day, and per project per hour. When any falls
under ``headroom`` (room for the calls already in flight: up to 10 concurrent, most under 10 tokens)
the meter refuses GA4 calls until that quota's period rolls over: the top of the next hour for the
two hourly quotas, the next midnight Pacific time for the daily one, which is when Google refreshes
them ("Quota refreshes at the start of the next hour" / "at midnight Pacific Time"; the top of the
hour is the same instant in UTC and Pacific, a whole-hour offset).

With Redis (``share``) the refusal is one hash per account, ``harmonia:ga4quota:<account>``, a field
per quota holding the epoch milliseconds until which calls stop, so one instance's reading stops
every instance; without Redis, or while it is down, each process keeps its own.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from harmonia.errors import UpstreamRateLimited
from harmonia.observability.metrics import record_quota_units
from harmonia.sources.shared import SharedRedis, SharedUnavailable

PACIFIC = ZoneInfo("America/Los_Angeles")
KEY = "harmonia:ga4quota:{account}"


def next_hour(at: float) -> float:
    """The top of the hour after ``at`` (epoch seconds)."""
    return (math.floor(at / 3600) + 1) * 3600.0


def next_pacific_midnight(at: float) -> float:
    """Midnight Pacific time after ``at`` (epoch seconds), daylight saving included."""
    day = datetime.fromtimestamp(at, PACIFIC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=PACIFIC).timestamp()


# propertyQuota field -> (words for a client, when its period ends after a moment)
QUOTAS: dict[str, tuple[str, Callable[[float], float]]] = {
    "tokensPerHour": ("tokens per hour", next_hour),
    "tokensPerDay": ("tokens per day", next_pacific_midnight),
    "tokensPerProjectPerHour": ("tokens per project per hour", next_hour),
}
# Google's 429 messages name the quota: "Exhausted property tokens per project per hour. ...".
_BY_MESSAGE = sorted(((words, name) for name, (words, _) in QUOTAS.items()), key=lambda p: -len(p[0]))

_READ = "return redis.call('HMGET', KEYS[1], unpack(ARGV))"
# ARGV: field, until_ms, field, until_ms, ..., ttl_ms. Keeps the later of what is stored and what is given.
_MARK = """
for i = 1, #ARGV - 1, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or 0
  if tonumber(ARGV[i + 1]) > current then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
local ttl = tonumber(ARGV[#ARGV])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class PropertyQuotaMeter:
    """One GA4 property's token quotas as last reported; refuses calls while one is under ``headroom``."""

    def __init__(self, headroom: int = 100, *, clock: Callable[[], float] = time.time) -> None:
        self.headroom = headroom
        self.clock = clock
        self.shared: SharedRedis | None = None
        self.key = KEY.format(account="-")
        self._until: dict[str, float] = {}  # quota -> epoch seconds until which no call is sent
        self.remaining: dict[str, float] = {}  # quota -> tokens left as GA4 last said (the catalogue's headroom)

    def share(self, shared: SharedRedis | None, account: str) -> None:
        """Read and write the refusal in Redis, under a key naming the property's account."""
        self.shared = shared
        self.key = KEY.format(account=account)

    async def check(self) -> None:
        """Raise UpstreamRateLimited while any quota is spent (here, or as another instance found)."""
        now = self.clock()
        blocked = {name: until for name, until in self._until.items() if until > now}
        if not blocked and self.shared is not None:
            try:
                raw = cast(list[Any], await self.shared.run(_READ, [self.key], list(QUOTAS)))
            except SharedUnavailable:
                raw = []
            for name, value in zip(QUOTAS, raw, strict=False):
                if value is not None and (until := int(value) / 1000.0) > now:
                    self._until[name] = max(until, self._until.get(name, 0.0))
                    blocked[name] = until
        if blocked:
            name = max(blocked, key=lambda n: blocked[n])
            raise self._refusal(name, blocked[name] - now)

    async def observe(self, property_quotas: Iterable[Any], sent_at: float) -> None:
        """Learn from an answer's ``propertyQuota`` objects (one per report; absent or malformed ones
        teach nothing) for a request sent at ``sent_at`` (epoch seconds)."""
        spent: set[str] = set()
        for quota in property_quotas:
            if not isinstance(quota, Mapping):
                continue
            for name in QUOTAS:
                entry = quota.get(name)
                remaining = _number(entry.get("remaining")) if isinstance(entry, Mapping) else None
                consumed = _number(entry.get("consumed")) if isinstance(entry, Mapping) else None
                if consumed is not None:
                    record_quota_units("ga4", name, consumed)  # the burn-rate alerts' numerator
                if remaining is not None:
                    self.remaining[name] = remaining
                    if remaining < self.headroom:
                        spent.add(name)
        await self._mark(sorted(spent), sent_at)

    async def exhausted_by(self, message: str, sent_at: float) -> UpstreamRateLimited | None:
        """For a 429 whose message names a token quota: mark it spent and return the client's error."""
        lowered = message.lower()
        name = next((n for words, n in _BY_MESSAGE if words in lowered), None)
        if name is None:
            return None  # concurrent requests, or an unknown quota: an ordinary 429, retried as such
        await self._mark([name], sent_at)
        return self._refusal(name, self._until[name] - self.clock())

    async def _mark(self, spent: list[str], sent_at: float) -> None:
        if not spent:
            return
        # The period the answer belongs to is the one the request was sent in.
        ends = {name: QUOTAS[name][1](sent_at) for name in spent}
        for name, until in ends.items():
            self._until[name] = max(until, self._until.get(name, 0.0))
        if self.shared is not None:
            args: list[str | int | float] = []
            for name, until in ends.items():
                args += [name, int(until * 1000)]
            ttl_ms = max(1000, int((max(ends.values()) - self.clock()) * 1000) + 60_000)
            # Redis down: this process knows; the others learn from their own answers.
            with contextlib.suppress(SharedUnavailable):
                await self.shared.run(_MARK, [self.key], [*args, ttl_ms])

    def _refusal(self, name: str, wait: float) -> UpstreamRateLimited:
        words = QUOTAS[name][0]
        refresh = "at midnight Pacific time" if name == "tokensPerDay" else "at the top of the hour"
        return UpstreamRateLimited("ga4", f"GA4's property quota ({words}) is spent; Harmonia sends GA4 no "
                                   f"more requests until it refreshes {refresh}", retry_after=max(1.0, wait),
                                   quota=name)
