"""A shared budget that keeps answering when its store fails: in-process until Redis is back.

    budget = FailoverBudget(RedisBudget.connect(target), LocalBudget())

A Redis outage must not fail requests: while it lasts each process meters its clients alone
(a client spread over N processes may get up to N buckets), and Redis is tried again after
``retry_seconds``. Each switch is logged once, not per request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from harmonia.limits.budget import Bucket, BucketState, CostBudget, LocalBudget
from harmonia.shared_state import FAILURES, Outage

Call = Callable[[CostBudget], Awaitable[BucketState]]


class FailoverBudget:
    def __init__(self, primary: CostBudget, fallback: LocalBudget, retry_seconds: float = 5.0) -> None:
        self.primary = primary
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self.outage = Outage("client cost budgets", retry_seconds, fallback="metering in process")

    @property
    def degraded(self) -> bool:
        return self.outage.down

    async def _call(self, call: Call) -> BucketState:
        if self.outage.up:
            try:
                state = await call(self.primary)
            except FAILURES as exc:
                self.outage.failed(exc)
            else:
                self.outage.succeeded()
                return state
        return await call(self.fallback)

    async def reserve(self, client: str, points: float, bucket: Bucket) -> BucketState:
        return await self._call(lambda b: b.reserve(client, points, bucket))

    async def adjust(self, client: str, points: float, bucket: Bucket) -> BucketState:
        return await self._call(lambda b: b.adjust(client, points, bucket))

    async def peek(self, client: str, bucket: Bucket) -> BucketState:
        return await self._call(lambda b: b.peek(client, bucket))

    async def aclose(self) -> None:
        with contextlib.suppress(*FAILURES):
            await self.primary.aclose()
