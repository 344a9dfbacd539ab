"""One pass over an operation before it runs: depth, aliases, root fields and static cost.

    analysis = analyze(document, operation_name=None, variables={})
    analysis.depth, analysis.aliases, analysis.root_fields, analysis.cost

Cost follows the IBM cost spec / Apollo demand control: objects 1, scalars and enums 0, a list
multiplied by its ``first``/``last``/``limit`` argument (or the field's default), and a weight
for fields that cost a SaaS report. Depth counts Relay wrappers (``edges``, ``node``) as part of
the connection they belong to, so ``customers { edges { node { orders { ... } } } }`` is depth 2
at ``orders``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

CONNECTION_WRAPPERS = frozenset({"edges", "node"})
LIST_ARGUMENTS = ("first", "last", "limit")
# Default page sizes of list fields (the schema's defaults), when no argument is given.
DEFAULT_LIST_SIZES = {"customers": 20, "orders": 20, "campaigns": 20, "edges": 1, "rows": 100, "lineItems": 3}
# Extra weight of fields that run a SaaS report rather than read a record.
FIELD_WEIGHTS = {"analytics": 10, "stats": 2, "totalCount": 1}


@dataclass(frozen=True, slots=True)
class Analysis:
    depth: int
    aliases: int
    root_fields: int
    cost: int
    operation_type: str


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


def analyze(document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]) -> Analysis:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walker = _Walker(fragments, variables)
    cost, depth = walker.selection(operation.selection_set, 0, frozenset())
    root_fields = len(walker.fields_of(operation.selection_set, frozenset()))
    base = 10 if operation.operation.value == "mutation" else 0
    return Analysis(depth=depth, aliases=walker.aliases, root_fields=root_fields, cost=cost + base,
                    operation_type=operation.operation.value)


class _Walker:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: Mapping[str, Any]) -> None:
        self.fragments = fragments
        self.variables = variables
        self.aliases = 0

    def fields_of(self, selection_set: SelectionSetNode, seen: frozenset[str]) -> list[FieldNode]:
        out: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                out.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                out.extend(self.fields_of(selection.selection_set, seen))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:  # cycles are a validation error anyway
                    out.extend(self.fields_of(fragment.selection_set, seen | {name}))
        return out

    def selection(self, selection_set: SelectionSetNode, depth: int, seen: frozenset[str]) -> tuple[int, int]:
        total, deepest = 0, depth
        for field in self.fields_of(selection_set, seen):
            if field.alias is not None:
                self.aliases += 1
            if field.selection_set is None:
                continue  # scalars and enums cost nothing
            if field.name.value.startswith("__"):
                # Introspection reads the in-memory schema, no source; its nesting is bounded by
                # graphql-core's MaxIntrospectionDepthRule. Counting it would reject GraphiQL's and
                # every client tool's standard introspection query (14 levels of ``ofType``).
                continue
            name = field.name.value
            level = depth if name in CONNECTION_WRAPPERS else depth + 1
            inner, inner_depth = self.selection(field.selection_set, level, seen)
            size = self._list_size(field)
            own = 0 if name == "edges" else 1  # the connection's list, not an object of its own
            total += FIELD_WEIGHTS.get(name, 0) + own + inner * size
            deepest = max(deepest, inner_depth, level)
        return total, deepest

    def _list_size(self, field: FieldNode) -> int:
        for argument in field.arguments or ():
            if argument.name.value in LIST_ARGUMENTS:
                value = argument.value
                if isinstance(value, IntValueNode):
                    return max(0, int(value.value))
                if isinstance(value, VariableNode):
                    raw = self.variables.get(value.name.value)
                    if isinstance(raw, int) and not isinstance(raw, bool):
                        return max(0, raw)
        return DEFAULT_LIST_SIZES.get(field.name.value, 1)
