"""CostLimitRule: an operation's static cost (``harmonia.limits.pricing``) is within the caller's limit.

The limit is ``max_cost``, or the caller's budget maximum when that is smaller: an operation that
costs more than a full bucket could never run, so it is refused now rather than throttled forever.
"""

from __future__ import annotations

from graphql import GraphQLError

from harmonia.limits.context import LimitsContext
from harmonia.limits.rules._base import LimitRule


class CostLimitRule(LimitRule):
    def check(self, context: LimitsContext) -> None:
        cost, limits = context.price.cost, context.limits
        limit = min(limits.max_cost, int(limits.budget_maximum))
        if cost > limit:
            context.report_error(GraphQLError(
                f"The operation costs {cost} points; at most {limit} are allowed",
                context.operation, extensions={"code": "COST_LIMIT_EXCEEDED", "cost": cost, "limit": limit}))
