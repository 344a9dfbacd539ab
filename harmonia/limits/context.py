"""What the limit rules validate against: one operation, its variables, the caller's limits.

    context = LimitsContext(schema, document, operation, variables, limits, model, errors.append)
    context.plan, context.price        # built once, on first use, shared by every rule

graphql-core's ``ValidationContext`` knows the document; limits also depend on the variables
(``first: $n``) and on who asks, so this context carries both, and the plan and price that the
rules share rather than each walking the operation again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, TypeInfo, ValidationContext

from harmonia.limits.plan import Plan, plan_operation
from harmonia.limits.pricing import CostModel, Price, price_plan
from harmonia.limits.role_limits import Limits


class LimitsContext(ValidationContext):
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: Mapping[str, Any], limits: Limits, model: CostModel,
                 on_error: Callable[[GraphQLError], None], introspection_schema: GraphQLSchema | None = None) -> None:
        super().__init__(schema, document, TypeInfo(schema), on_error)
        self.introspection_schema = introspection_schema
        self.operation = operation
        self.variables = variables
        self.limits = limits
        self.model = model

    @cached_property
    def plan(self) -> Plan:
        return plan_operation(self.schema, self.document, self.operation, self.variables)

    @cached_property
    def price(self) -> Price:
        # Introspection stops counting just past the limit: beyond it the exact figure changes nothing.
        cap = min(self.limits.max_cost, int(self.limits.budget_maximum))
        return price_plan(self.plan, self.model, self.schema, introspection_cap=cap,
                          introspection_schema=self.introspection_schema)
