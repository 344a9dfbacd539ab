"""The shape shared by the limit rules: act once, on the operation being run, then skip the rest."""

from __future__ import annotations

from typing import Any

from graphql import OperationDefinitionNode, ValidationRule, VisitorAction

from harmonia.limits.context import LimitsContext


class LimitRule(ValidationRule):
    context: LimitsContext

    def __init__(self, context: LimitsContext) -> None:
        super().__init__(context)

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> VisitorAction:
        if node is self.context.operation:
            self.check(self.context)
        return self.SKIP  # the plan already holds what the rule needs; no need to walk the nodes

    def check(self, context: LimitsContext) -> None:
        raise NotImplementedError
