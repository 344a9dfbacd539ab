"""Shopify's cost bucket: per app and shop (here: per token), points restored every second.

    bucket = CostBucket(maximum=2000.0, restore_rate=100.0)
    if bucket.take(token, 152): ...; bucket.refund(token, 152 - 40)
    bucket.reconfigure(restore_rate=200.0)       # tests change the plan while a burst runs

A query runs only when its requested cost is available; the difference between requested and
actual cost is given back afterwards (upstreams.md G2). ``status`` is the answer's
``extensions.cost.throttleStatus``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

BUCKET_KEY = "shopify_bucket"
UNLIMITED = 1_000_000_000.0  # what --no-rate-limits reports: a bucket no client can empty


@dataclass
class CostBucket:
    maximum: float = 2000.0
    restore_rate: float = 100.0
    initial: float | None = None  # where a token not seen yet starts (None: a full bucket) ...
    initial_at: float = 0.0       # ... restoring since this moment
    _levels: dict[str, tuple[float, float]] = field(default_factory=dict)  # token -> (available, stamp)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def available(self, token: str) -> float:
        start = (self.maximum, time.monotonic()) if self.initial is None else (self.initial, self.initial_at)
        level, stamp = self._levels.get(token, start)
        return min(self.maximum, level + (time.monotonic() - stamp) * self.restore_rate)

    def fill(self, token: str, level: float) -> None:
        self._levels[token] = (max(0.0, min(self.maximum, level)), time.monotonic())

    def take(self, token: str, cost: float) -> bool:
        with self._lock:
            level = self.available(token)
            if level < cost:
                self.fill(token, level)
                return False
            self.fill(token, level - cost)
            return True

    def refund(self, token: str, amount: float) -> None:
        with self._lock:
            self.fill(token, self.available(token) + max(0.0, amount))

    def reconfigure(self, *, maximum: float | None = None, restore_rate: float | None = None,
                    available: float | None = None) -> None:
        """Change the plan from now on: what was restored at the old rate is kept."""
        with self._lock:
            for token in list(self._levels):
                self.fill(token, self.available(token))
            if maximum is not None:
                self.maximum = maximum
            if restore_rate is not None:
                self.restore_rate = restore_rate
            for token in list(self._levels):
                self.fill(token, self.available(token) if available is None else available)
            if available is not None:
                self.initial, self.initial_at = available, time.monotonic()

    def status(self, token: str) -> dict[str, Any]:
        return {"maximumAvailable": float(self.maximum), "currentlyAvailable": int(self.available(token)),
                "restoreRate": float(self.restore_rate)}
