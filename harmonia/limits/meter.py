"""Everything the request pipeline asks of the limits: check, reserve, settle, report.

    meter = CostMeter.from_settings(schema, settings)
    pricing = meter.check(document, operation, variables, principal)     # errors, cost, estimate
    state = await meter.reserve(principal, pricing.cost)                  # state.allowed?
    ... execute ...
    state = await meter.settle(principal, pricing.cost, actual_cost(pricing.plan, meter.model, data))
    body["extensions"] = meter.extension(state, pricing.cost, actual, pricing.upstream_calls)

Budgets live in Redis when ``redis_url`` is set (shared by every process, in-process while Redis
is unreachable), else in process.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode

from harmonia.auth.principal import Principal
from harmonia.limits.budget import Bucket, BucketState, CostBudget, LocalBudget, client_key
from harmonia.limits.check import Pricing, check_operation
from harmonia.limits.failover_budget import FailoverBudget
from harmonia.limits.pricing import CostModel
from harmonia.limits.redis_budget import RedisBudget
from harmonia.limits.role_limits import Limits, limits_for
from harmonia.limits.upstream import SOURCES
from harmonia.settings import Settings
from harmonia.shared_state import RedisTarget

PRICED_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class CostOptions:
    """What a request asked for in ``extensions.cost``: price only, and/or the per-field breakdown."""

    preview: bool = False
    breakdown: bool = False

    @classmethod
    def of(cls, extensions: Any) -> CostOptions:
        cost = extensions.get("cost") if isinstance(extensions, dict) else None
        if not isinstance(cost, dict):
            return cls()
        return cls(preview=cost.get("preview") is True, breakdown=cost.get("breakdown") is True)


class CostMeter:
    def __init__(self, schema: GraphQLSchema, settings: Settings, budget: CostBudget) -> None:
        self.schema = schema
        self.settings = settings
        self.model = CostModel.from_settings(settings.limits)
        self.budget = budget
        self._limits: dict[frozenset[str], Limits] = {}
        self._priced: OrderedDict[tuple[str, str | None, bytes, Limits, GraphQLSchema], Pricing] = OrderedDict()

    @classmethod
    def from_settings(cls, schema: GraphQLSchema, settings: Settings) -> CostMeter:
        budget: CostBudget = LocalBudget()
        target = RedisTarget.from_settings(settings)
        if target is not None:
            budget = FailoverBudget(RedisBudget.connect(target), LocalBudget())
        return cls(schema, settings, budget)

    def limits(self, principal: Principal | None) -> Limits:
        roles = principal.roles if principal is not None else frozenset()
        limits = self._limits.get(roles)
        if limits is None:
            limits = self._limits[roles] = limits_for(self.settings.limits, roles)
        return limits

    def check(self, document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any],
              principal: Principal, query: str | None = None,
              introspection_schema: GraphQLSchema | None = None) -> Pricing:
        """Price and check; with ``query`` (the document's text) the answer is cached, as dashboards
        send the same operations with the same variables again and again. ``introspection_schema``: the
        caller's own schema, which its introspection answers from (and is priced on)."""
        limits = self.limits(principal)
        own = introspection_schema if introspection_schema is not None else self.schema
        if query is None:
            return check_operation(self.schema, document, operation, variables, limits, self.model, own)
        key = (query, operation.name.value if operation.name else None,
               orjson.dumps(variables, option=orjson.OPT_SORT_KEYS), limits, own)
        pricing = self._priced.get(key)
        if pricing is None:
            pricing = check_operation(self.schema, document, operation, variables, limits, self.model, own)
            self._priced[key] = pricing
            if len(self._priced) > PRICED_CACHE_SIZE:
                self._priced.popitem(last=False)
        else:
            self._priced.move_to_end(key)
        return pricing

    def _bucket(self, principal: Principal | None) -> Bucket:
        limits = self.limits(principal)
        return Bucket(limits.budget_maximum, limits.budget_restore_rate)

    async def reserve(self, principal: Principal, points: int) -> BucketState:
        return await self.budget.reserve(client_key(principal), points, self._bucket(principal))

    async def settle(self, principal: Principal, reserved: int, actual: int) -> BucketState:
        """Refund what was reserved and not used (or take the excess when the answer ran over)."""
        if reserved == actual:
            return await self.budget.peek(client_key(principal), self._bucket(principal))
        return await self.budget.adjust(client_key(principal), reserved - actual, self._bucket(principal))

    async def status(self, principal: Principal | None) -> BucketState:
        if principal is None:  # no client, no bucket: a full one describes the defaults
            bucket = self._bucket(None)
            return BucketState(True, bucket.maximum, bucket)
        return await self.budget.peek(client_key(principal), self._bucket(principal))

    def idle_state(self) -> BucketState:
        bucket = self._bucket(None)
        return BucketState(True, bucket.maximum, bucket)

    def extension(self, state: BucketState, requested: int = 0, actual: int = 0,
                  upstream: Mapping[str, int] | None = None, **extra: Any) -> dict[str, Any]:
        """The contract's ``extensions.cost``: every figure a number, never null."""
        bucket = state.bucket
        cost: dict[str, Any] = {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": _number(bucket.maximum),
                "currentlyAvailable": max(0, math.floor(state.available)),
                "restoreRate": _number(bucket.restore_rate),
            },
            "estimatedUpstreamCalls": dict(upstream) if upstream is not None else dict.fromkeys(SOURCES, 0),
        }
        cost.update(extra)
        return {"cost": cost}

    async def aclose(self) -> None:
        await self.budget.aclose()


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
