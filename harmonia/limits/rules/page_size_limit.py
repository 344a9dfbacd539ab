"""PageSizeLimitRule: every ``first``/``last`` of a page (a list or a connection) is within 0..``max_page_size``."""

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
            # Only pages: `last` on an object field (dryRunPolicy's operations to replay) sizes no page.
            pages = planned.is_list or planned.type_name.endswith("Connection")
            for argument in PAGE_ARGUMENTS if pages else ():
                value = planned.args.get(argument)
                if isinstance(value, int) and not 0 <= value <= limit and planned.path not in reported:
                    reported.add(planned.path)
                    context.report_error(GraphQLError(
                        f"`{argument}` on `{planned.path}` is {value}; it must be within 0..{limit}",
                        context.operation, extensions={"code": "BAD_USER_INPUT", "argument": argument,
                                                       "value": value, "limit": limit, "field": planned.path}))
            for children in planned.children.values():
                stack.extend(children)
