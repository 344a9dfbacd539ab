"""A shared budget that keeps answering when its store fails: in-process until Redis is back.

    budget = FailoverBudget(RedisBudget.from_url(url), LocalBudget())

A Redis outage must not fail requests: while it lasts each process meters its clients alone
(a client spread over N processes may get up to N buckets), and Redis is tried again after
``retry_seconds``. Each switch is logged once, not per request.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from harmonia.limits.budget import Bucket, BucketState, CostBudget, LocalBudget

log = logging.getLogger("harmonia.limits")

Call = Callable[[CostBudget], Awaitable[BucketState]]


class FailoverBudget:
    def __init__(self, primary: CostBudget, fallback: LocalBudget, retry_seconds: float = 5.0) -> None:
        self.primary = primary
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self._down_until = 0.0

    @property
    def degraded(self) -> bool:
        return time.monotonic() < self._down_until

    async def _call(self, call: Call) -> BucketState:
        if not self.degraded:
            try:
                state = await call(self.primary)
            except (TimeoutError, RedisError, OSError) as exc:
                log.warning("cost budget store unreachable (%s); metering in process for %.0f s",
                            type(exc).__name__, self.retry_seconds)
                self._down_until = time.monotonic() + self.retry_seconds
            else:
                if self._down_until:
                    log.warning("cost budget store reachable again; metering shared")
                    self._down_until = 0.0
                return state
        return await call(self.fallback)

    async def reserve(self, client: str, points: float, bucket: Bucket) -> BucketState:
        return await self._call(lambda b: b.reserve(client, points, bucket))

    async def adjust(self, client: str, points: float, bucket: Bucket) -> BucketState:
        return await self._call(lambda b: b.adjust(client, points, bucket))

    async def peek(self, client: str, bucket: Bucket) -> BucketState:
        return await self._call(lambda b: b.peek(client, bucket))

    async def aclose(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.primary.aclose()
