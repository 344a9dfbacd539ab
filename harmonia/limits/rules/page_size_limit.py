"""PageSizeLimitRule: every ``first``/``last`` is within 0..``max_page_size``, variables included."""

from __future__ import annotations

from graphql import GraphQLError

from harmonia.limits.context import LimitsContext
from harmonia.limits.plan import PlannedField
from harmonia.limits.rules._base import LimitRule

PAGE_ARGUMENTS = ("first", "last")


class PageSizeLimitRule(LimitRule):
    def check(self, context: LimitsContext) -> None:
        limit = context.limits.max_page_size
        reported: set[str] = set()
        stack: list[PlannedField] = list(context.plan.fields)
        while stack:
            planned = stack.pop()
            for argument in PAGE_ARGUMENTS:
                value = planned.args.get(argument)
                if isinstance(value, int) and not 0 <= value <= limit and planned.path not in reported:
                    reported.add(planned.path)
                    context.report_error(GraphQLError(
                        f"`{argument}` on `{planned.path}` is {value}; it must be within 0..{limit}",
                        context.operation, extensions={"code": "BAD_USER_INPUT", "argument": argument,
                                                       "value": value, "limit": limit, "field": planned.path}))
            for children in planned.children.values():
                stack.extend(children)
