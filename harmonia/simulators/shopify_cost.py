"""Shopify's query cost rules, as upstreams.md states them, over a parsed operation.

    requested = query_cost(schema, operation, fragments, variables)             # before running
    actual = query_cost(schema, operation, fragments, variables, data=result)   # from what came back

Scalars and enums cost 0, an object 1 plus its selection, an interface or union the most any of its
types' selections costs. A connection (a field taking ``first``/``last`` whose type ends in
``Connection``) costs 2 plus ``first`` times one node (its ``edges.node`` or ``nodes`` selection);
a list of objects (``nodes(ids:)``) costs one element per id; a mutation field 10 plus its payload,
whose ``userErrors`` are free. The actual cost walks the answer instead: each connection counts
the nodes it returned, and an object that came back null costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_list_type,
)
from graphql.execution.values import VariableValues, get_argument_values
from graphql.type import get_nullable_type

MUTATION_COST = 10
CONNECTION_COST = 2
FREE_FIELDS = frozenset({"userErrors", "pageInfo"})

Fragments = Mapping[str, FragmentDefinitionNode]


def query_cost(schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: Fragments,
               variables: VariableValues, data: Any = None, measured: bool = False) -> int:
    """The requested cost, or with ``measured`` the actual cost of ``data`` (the answer's ``data``)."""
    root = schema.mutation_type if operation.operation == OperationType.MUTATION else schema.query_type
    assert root is not None
    walker = _Walker(schema, fragments, variables, measured)
    cost = 0
    for node in walker.fields(root, operation.selection_set):
        value = data.get(_key(node)) if measured and isinstance(data, Mapping) else None
        if measured and value is None:
            continue
        field_cost = walker.field(root, node, value)
        if operation.operation == OperationType.MUTATION:
            field_cost += MUTATION_COST - 1  # the payload object's own 1 is part of the 10
        cost += field_cost
    return cost


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


class _Walker:
    def __init__(self, schema: GraphQLSchema, fragments: Fragments, variables: VariableValues,
                 measured: bool) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.measured = measured

    def fields(self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        """The field nodes that apply to ``parent`` (fragments on it, or on an interface it implements)."""
        found: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else None
                inner: SelectionSetNode | None = selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition.name.value, fragment.selection_set
            else:
                continue
            if condition is None or self._applies(condition, parent):
                found.extend(self.fields(parent, inner))
        return found

    def _applies(self, condition: str, parent: GraphQLObjectType) -> bool:
        return condition == parent.name or any(i.name == condition for i in parent.interfaces)

    def field(self, parent: GraphQLObjectType, node: FieldNode, value: Any) -> int:
        name = node.name.value
        if name.startswith("__") or name in FREE_FIELDS:
            return 0
        definition: GraphQLField | None = parent.fields.get(name)
        if definition is None:
            return 0
        output: GraphQLOutputType = get_nullable_type(definition.type)  # type: ignore[assignment]
        named = get_named_type(output)
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            return 0
        args = get_argument_values(definition, node, self.variables)
        if named.name.endswith("Connection") and ("first" in args or "last" in args):
            return self._connection(named, node, args, value)
        if is_list_type(output):
            return self._list(output, named, node, args, value)
        return self.object_cost(named, node.selection_set, value)

    def _connection(self, connection: GraphQLNamedType, node: FieldNode, args: Mapping[str, Any], value: Any) -> int:
        assert isinstance(connection, GraphQLObjectType)
        per_node = 0
        count = int(args.get("first") or args.get("last") or 0)
        returned: list[Any] = []
        for inner in self.fields(connection, node.selection_set):
            name = inner.name.value
            inner_value = value.get(_key(inner)) if self.measured and isinstance(value, Mapping) else None
            if name == "nodes":
                element = get_named_type(connection.fields["nodes"].type)
                per_node = max(per_node, self.object_cost(element, inner.selection_set, None))
                returned = list(inner_value or []) or returned
            elif name == "edges":
                edge = get_named_type(connection.fields["edges"].type)
                assert isinstance(edge, GraphQLObjectType)
                for edge_field in self.fields(edge, inner.selection_set):
                    if edge_field.name.value == "node":
                        element = get_named_type(edge.fields["node"].type)
                        per_node = max(per_node, self.object_cost(element, edge_field.selection_set, None))
                if inner_value:
                    returned = [e.get("node") for e in inner_value if isinstance(e, Mapping)] or returned
        if not self.measured:
            return CONNECTION_COST + count * per_node
        return CONNECTION_COST + sum(self._node_actual(connection, node, item) for item in returned)

    def _node_actual(self, connection: GraphQLObjectType, node: FieldNode, item: Any) -> int:
        element = get_named_type(connection.fields["nodes"].type)
        # The node's selection may sit under edges.node or nodes; either prices the same object.
        for inner in self.fields(connection, node.selection_set):
            if inner.name.value == "nodes":
                return self.object_cost(element, inner.selection_set, item)
            if inner.name.value == "edges":
                edge = get_named_type(connection.fields["edges"].type)
                assert isinstance(edge, GraphQLObjectType)
                for edge_field in self.fields(edge, inner.selection_set):
                    if edge_field.name.value == "node":
                        return self.object_cost(element, edge_field.selection_set, item)
        return 1

    def _list(self, output: GraphQLOutputType, named: GraphQLNamedType, node: FieldNode, args: Mapping[str, Any],
              value: Any) -> int:
        if self.measured:
            return sum(self.object_cost(named, node.selection_set, item) for item in value or () if item is not None)
        assert isinstance(output, GraphQLList)
        ids = args.get("ids")
        count = len(ids) if isinstance(ids, Sequence) and not isinstance(ids, str) else 1
        return count * self.object_cost(named, node.selection_set, None)

    def object_cost(self, named: GraphQLNamedType, selection_set: SelectionSetNode | None, value: Any) -> int:
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            if self.measured and not isinstance(value, Mapping):
                return 0
            # The answer need not name its type (no __typename asked): the costliest reading is right,
            # since fields of the other types' fragments are absent from it.
            return max((self.object_cost(t, selection_set, value) for t in self.schema.get_possible_types(named)),
                       default=1)
        if not isinstance(named, GraphQLObjectType):
            return 0
        if self.measured and value is None:
            return 0
        total = 1
        for node in self.fields(named, selection_set):
            inner = value.get(_key(node)) if self.measured and isinstance(value, Mapping) else None
            if self.measured and inner is None:
                continue
            total += self.field(named, node, inner)
        return total
