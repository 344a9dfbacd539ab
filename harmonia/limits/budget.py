"""Per-client cost budgets: a leaky bucket of points per client, in process.

    budget = CostBudget(maximum=20000, restore_rate=1000)
    ok, available = budget.take("sub:ana", 120)
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    level: float
    stamp: float


class CostBudget:
    def __init__(self, maximum: float, restore_rate: float) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._buckets: dict[str, _Bucket] = {}

    def _refill(self, client: str) -> _Bucket:
        now = time.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(self.maximum, now)
        else:
            bucket.level = min(self.maximum, bucket.level + (now - bucket.stamp) * self.restore_rate)
            bucket.stamp = now
        return bucket

    def take(self, client: str, points: float) -> tuple[bool, float]:
        """Reserve ``points``; (False, available) without taking anything when they are not there."""
        bucket = self._refill(client)
        if points > bucket.level:
            return False, bucket.level
        bucket.level -= points
        return True, bucket.level

    def refund(self, client: str, points: float) -> float:
        bucket = self._refill(client)
        bucket.level = min(self.maximum, bucket.level + max(0.0, points))
        return bucket.level

    def available(self, client: str) -> float:
        return self._refill(client).level

    def seconds_until(self, client: str, points: float) -> float:
        missing = points - self._refill(client).level
        return max(0.0, missing / self.restore_rate) if self.restore_rate > 0 else float("inf")
