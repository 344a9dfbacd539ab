"""AliasLimitRule: an operation uses at most ``max_aliases`` aliases, fragments expanded."""

from __future__ import annotations

from graphql import GraphQLError

from harmonia.limits.context import LimitsContext
from harmonia.limits.rules._base import LimitRule


class AliasLimitRule(LimitRule):
    def check(self, context: LimitsContext) -> None:
        aliases, limit = context.plan.aliases, context.limits.max_aliases
        if aliases > limit:
            context.report_error(GraphQLError(
                f"The operation uses {aliases} aliases; at most {limit} are allowed",
                context.operation, extensions={"code": "BAD_USER_INPUT", "aliases": aliases, "limit": limit}))
