"""DepthLimitRule: an operation nests no deeper than ``max_depth`` (Relay and type wrappers free).

How depth is counted is in ``harmonia.limits.plan``; introspection is counted like any selection.
"""

from __future__ import annotations

from graphql import GraphQLError

from harmonia.limits.context import LimitsContext
from harmonia.limits.rules._base import LimitRule


class DepthLimitRule(LimitRule):
    def check(self, context: LimitsContext) -> None:
        depth, limit = context.plan.depth, context.limits.max_depth
        if depth > limit:
            context.report_error(GraphQLError(
                f"The operation is {depth} levels deep; at most {limit} are allowed",
                context.operation, extensions={"code": "DEPTH_LIMIT_EXCEEDED", "depth": depth, "limit": limit}))
