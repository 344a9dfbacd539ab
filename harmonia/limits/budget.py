"""Per-client cost budgets: a leaky bucket of points per client, reserved before and settled after.

    budget = LocalBudget()
    state = await budget.reserve("ana|analyst", 120, Bucket(maximum=20000, restore_rate=1000))
    state.allowed, state.available, state.retry_after(120)
    await budget.adjust("ana|analyst", +80, bucket)     # refund what the answer did not use

A bucket starts full, refills at ``restore_rate`` points per second up to ``maximum``, and a
reservation takes its points only when they are all there. ``harmonia.limits.redis_budget``
shares buckets between gateway processes; ``FailoverBudget`` keeps answering from this
in-process one while Redis is unreachable.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from harmonia.auth.principal import Principal


@dataclass(frozen=True, slots=True)
class Bucket:
    maximum: float
    restore_rate: float


@dataclass(frozen=True, slots=True)
class BucketState:
    allowed: bool
    available: float
    bucket: Bucket

    def retry_after(self, points: float) -> int:
        """Whole seconds until ``points`` are available again (at least 1 when they are not now)."""
        missing = points - self.available
        if missing <= 0:
            return 0
        if self.bucket.restore_rate <= 0:
            return 86_400
        return max(1, math.ceil(missing / self.bucket.restore_rate))


class CostBudget(Protocol):
    async def reserve(self, client: str, points: float, bucket: Bucket) -> BucketState: ...

    async def adjust(self, client: str, points: float, bucket: Bucket) -> BucketState:
        """Give back ``points`` (or take them when negative: an answer bigger than its estimate)."""
        ...

    async def peek(self, client: str, bucket: Bucket) -> BucketState: ...

    async def aclose(self) -> None: ...


def client_key(principal: Principal) -> str:
    """One bucket per subject and role set: the same person as analyst and as admin meters apart."""
    return f"{principal.sub}|{','.join(sorted(principal.roles))}"


class LocalBudget:
    """In-process buckets: exact for one process, each process its own when several run."""

    MAX_CLIENTS = 100_000

    def __init__(self) -> None:
        self._levels: dict[str, tuple[float, float]] = {}  # client -> (level, monotonic stamp)

    def _level(self, client: str, bucket: Bucket) -> tuple[float, float]:
        now = time.monotonic()
        level, stamp = self._levels.get(client, (bucket.maximum, now))
        return min(bucket.maximum, level + max(0.0, now - stamp) * bucket.restore_rate), now

    def _store(self, client: str, level: float, now: float, bucket: Bucket) -> None:
        if len(self._levels) >= self.MAX_CLIENTS and client not in self._levels:
            self._forget_full(bucket, now)
        self._levels[client] = (level, now)

    def _forget_full(self, bucket: Bucket, now: float) -> None:
        # A full bucket is the same as no bucket: dropping those bounds memory to active clients.
        for key, (level, stamp) in list(self._levels.items()):
            if level + (now - stamp) * bucket.restore_rate >= bucket.maximum:
                del self._levels[key]

    async def reserve(self, client: str, points: float, bucket: Bucket) -> BucketState:
        level, now = self._level(client, bucket)
        allowed = points <= level
        if allowed:
            level -= points
        self._store(client, level, now, bucket)
        return BucketState(allowed, level, bucket)

    async def adjust(self, client: str, points: float, bucket: Bucket) -> BucketState:
        level, now = self._level(client, bucket)
        level = min(bucket.maximum, level + points)
        self._store(client, level, now, bucket)
        return BucketState(True, level, bucket)

    async def peek(self, client: str, bucket: Bucket) -> BucketState:
        level, _ = self._level(client, bucket)
        return BucketState(True, level, bucket)

    async def aclose(self) -> None:
        return None
