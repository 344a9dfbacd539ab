"""RootFieldLimitRule: an operation selects at most ``max_root_fields`` fields at its root."""

from __future__ import annotations

from graphql import GraphQLError

from harmonia.limits.context import LimitsContext
from harmonia.limits.rules._base import LimitRule


class RootFieldLimitRule(LimitRule):
    def check(self, context: LimitsContext) -> None:
        count, limit = len(context.plan.fields), context.limits.max_root_fields
        if count > limit:
            context.report_error(GraphQLError(
                f"The operation selects {count} root fields; at most {limit} are allowed",
                context.operation, extensions={"code": "BAD_USER_INPUT", "rootFields": count, "limit": limit}))
