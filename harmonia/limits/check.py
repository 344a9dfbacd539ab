"""Price an operation and check it against the caller's limits, before anything runs.

    pricing = check_operation(schema, document, operation, variables, limits, model)
    pricing.errors        # GraphQLErrors with extensions.code, the value and the limit
    pricing.cost, pricing.upstream_calls, pricing.breakdown()

The checks are graphql-core validation rules (``harmonia.limits.rules``), run over the selected
operation with a ``LimitsContext`` that carries the variables and the limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, ParallelVisitor, visit
from graphql.language.visitor import BREAK, EnterLeaveVisitor

from harmonia.limits.context import LimitsContext
from harmonia.limits.plan import MAX_FIELDS, Plan, PlanTooDeep, PlanTooLarge
from harmonia.limits.pricing import CostModel, Visit
from harmonia.limits.role_limits import Limits
from harmonia.limits.rules.alias_limit import AliasLimitRule
from harmonia.limits.rules.cost_limit import CostLimitRule
from harmonia.limits.rules.depth_limit import DepthLimitRule
from harmonia.limits.rules.page_size_limit import PageSizeLimitRule
from harmonia.limits.rules.root_field_limit import RootFieldLimitRule
from harmonia.limits.upstream import SOURCES, estimate_upstream_calls

# Order matters only for which error a client reads first: shape before price.
LIMIT_RULES = (DepthLimitRule, AliasLimitRule, RootFieldLimitRule, PageSizeLimitRule, CostLimitRule)


class _OnOperation(ParallelVisitor):
    """The rules in parallel on the operation node, then stop: they read the shared plan, not the nodes
    below, and walking those would cost more than all the checks together."""

    def get_enter_leave_for_kind(self, kind: str) -> EnterLeaveVisitor:
        parallel = super().get_enter_leave_for_kind(kind)

        def enter(*args: Any) -> Any:
            if parallel.enter is not None:
                parallel.enter(*args)
            return BREAK

        return EnterLeaveVisitor(enter, None)


@dataclass(slots=True)
class Pricing:
    cost: int = 0
    plan: Plan | None = None
    visits: list[Visit] = field(default_factory=list)
    upstream_calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))
    errors: list[GraphQLError] = field(default_factory=list)

    def breakdown(self) -> list[dict[str, Any]]:
        """Every field that costs points: where, how many times it resolves, points in its subtree."""
        return [{"path": v.field.path, "coordinate": v.field.coordinate, "count": v.instances,
                 "points": v.points} for v in self.visits if v.points]


def check_operation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                    variables: Mapping[str, Any], limits: Limits, model: CostModel,
                    introspection_schema: GraphQLSchema | None = None) -> Pricing:
    """``introspection_schema``: what the caller's introspection answers from, when not ``schema``."""
    errors: list[GraphQLError] = []
    context = LimitsContext(schema, document, operation, variables, limits, model, errors.append,
                            introspection_schema)
    try:
        visit(operation, _OnOperation([rule(context) for rule in LIMIT_RULES]))
    except PlanTooDeep as exc:
        return Pricing(errors=[GraphQLError(
            f"{exc}; at most {limits.max_depth} levels are allowed", operation,
            extensions={"code": "DEPTH_LIMIT_EXCEEDED", "depth": exc.depth, "limit": limits.max_depth})])
    except PlanTooLarge as exc:
        return Pricing(errors=[GraphQLError(
            f"{exc}; it cannot be priced under {limits.max_cost} points", operation,
            extensions={"code": "COST_LIMIT_EXCEEDED", "fields": MAX_FIELDS + 1, "limit": limits.max_cost})])
    price = context.price
    return Pricing(cost=price.cost, plan=context.plan, visits=price.visits,
                   upstream_calls=estimate_upstream_calls(price.visits), errors=errors)
