"""The shape of one operation as execution will see it, before anything runs.

    plan = plan_operation(schema, document, operation, variables)
    plan.fields[0].name, plan.fields[0].args["first"], plan.depth, plan.aliases

Fields are merged by response key and fragments expanded per runtime type, as graphql-core's
``collect_fields`` does, so a field selected twice (directly and through a fragment) is one field,
an aliased field is another, and an abstract field (``node``) has one child list per possible
type. Arguments are resolved from literals, variables, variable defaults and argument defaults;
``@skip``/``@include`` are applied.

Depth counts the hops into objects, except the hops that only unwrap: a Relay connection's
``edges`` and an edge's ``node`` belong to the connection field above them, and ``__Type.ofType``
belongs to the type reference above it (up to the nine levels graphql-js's and graphql-core's
standard introspection query asks for; more count). So ``customers { edges { node { orders
{ edges { node { name } } } } } }`` is 2 deep, and GraphiQL's introspection query is 5.

Building stops with ``PlanTooLarge`` beyond ``max_fields`` planned fields (or ten times as many
selections visited): a few hundred tokens of nested fragments can otherwise expand to billions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    Undefined,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
    value_from_ast,
    value_from_ast_untyped,
)

MAX_FREE_OF_TYPE = 9
MAX_FIELDS = 2_500  # planned fields; a real dashboard query plans a few hundred at most
MAX_LEVELS = 200  # nested selections planned at most; keeps every walk of the plan far from recursion limits


class PlanTooLarge(Exception):
    """The operation expands to more fields than anyone could mean to ask for."""


class PlanTooDeep(Exception):
    """The operation nests more than ``MAX_LEVELS`` selections deep."""

    def __init__(self, depth: int) -> None:
        super().__init__(f"The operation nests more than {MAX_LEVELS} selections deep")
        self.depth = depth


@dataclass(slots=True)
class PlannedField:
    key: str
    name: str
    coordinate: str  # "Customer.orders"
    args: dict[str, Any]
    is_list: bool
    leaf: bool
    type_name: str
    depth: int
    path: str  # "customers.edges.node.orders"
    # One child list per possible runtime type (one entry for an object type).
    children: dict[str, list[PlannedField]] = field(default_factory=dict)


@dataclass(slots=True)
class Plan:
    operation_type: str
    fields: list[PlannedField]
    depth: int
    aliases: int
    size: int
    # What pricing the answer needs of this plan, per cost model (``harmonia.limits.actual``): worked
    # out on the first answer, kept with the plan (plans are cached per document).
    pricing_memo: dict[int, Any] = field(default_factory=dict, compare=False, repr=False)


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


def plan_operation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                   variables: Mapping[str, Any], max_fields: int = MAX_FIELDS) -> Plan:
    planner = _Planner(schema, document, operation, variables, max_fields)
    root = schema.get_root_type(operation.operation)
    if root is None:
        return Plan(operation.operation.value, [], 0, 0, 0)
    fields = planner.fields(root, [operation.selection_set], 0, 0, "")
    return Plan(operation.operation.value, fields, planner.depth, len(planner.aliased), planner.size)


class _Planner:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: Mapping[str, Any], max_fields: int) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = dict(variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = value_from_ast_untyped(definition.default_value)
        self.max_fields = max_fields
        self.size = 0
        self.work = 0
        self.max_work = 10 * max_fields
        self.depth = 0
        self.aliased: set[str] = set()

    def fields(self, parent: GraphQLObjectType, selection_sets: list[SelectionSetNode], depth: int,
               of_type_run: int, path: str) -> list[PlannedField]:
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()  # one expansion per fragment per level, as graphql-core collects
        for selection_set in selection_sets:
            self._collect(parent, selection_set, grouped, visited)
        planned = []
        for key, nodes in grouped.items():
            planned.append(self._field(parent, key, nodes, depth, of_type_run, f"{path}.{key}" if path else key))
        return planned

    def _field(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode], depth: int,
               of_type_run: int, path: str) -> PlannedField:
        self.size += 1
        if self.size > self.max_fields:
            raise PlanTooLarge(f"The operation expands to more than {self.max_fields} fields")
        node = nodes[0]
        name = node.name.value
        definition = self._definition(parent, name)
        if node.alias is not None and node.alias.value != name:
            self.aliased.add(path)
        return_type = definition.type
        named = get_named_type(return_type)
        planned = PlannedField(key=key, name=name, coordinate=f"{parent.name}.{name}",
                               args=self._arguments(definition, node), is_list=_is_list(return_type),
                               leaf=is_leaf_type(named), type_name=named.name, depth=depth, path=path)
        if planned.leaf:
            return planned
        if name == "ofType" and parent.name == "__Type":
            run = of_type_run + 1
            inner_depth = depth if run <= MAX_FREE_OF_TYPE else depth + 1
        elif _unwraps_relay(parent, name):
            inner_depth, run = depth, 0
        else:
            inner_depth, run = depth + 1, 0
        self.depth = max(self.depth, inner_depth)
        planned.depth = inner_depth
        if path.count(".") >= MAX_LEVELS:
            raise PlanTooDeep(inner_depth)
        sub_sets = [n.selection_set for n in nodes if n.selection_set is not None]
        if is_object_type(named):
            assert isinstance(named, GraphQLObjectType)
            planned.children[named.name] = self.fields(named, sub_sets, inner_depth, run, path)
        elif is_abstract_type(named):
            for possible in self.schema.get_possible_types(named):
                planned.children[possible.name] = self.fields(possible, sub_sets, inner_depth, run, path)
        return planned

    def _definition(self, parent: GraphQLObjectType, name: str) -> GraphQLField:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is self.schema.query_type and name in ("__schema", "__type"):
            return SchemaMetaFieldDef if name == "__schema" else TypeMetaFieldDef
        definition: GraphQLField = parent.fields[name]  # the document passed validation: it exists
        return definition

    def _collect(self, runtime: GraphQLObjectType, selection_set: SelectionSetNode,
                 grouped: dict[str, list[FieldNode]], visited: set[str]) -> None:
        self.work += len(selection_set.selections)
        if self.work > self.max_work:
            raise PlanTooLarge(f"The operation expands to more than {self.max_work} selections")
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, runtime):
                    self._collect(runtime, selection.selection_set, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visited:  # cycles fail validation before this runs
                    continue
                visited.add(name)
                if self._applies(fragment.type_condition.name.value, runtime):
                    self._collect(runtime, fragment.selection_set, grouped, visited)

    def _applies(self, condition: str, runtime: GraphQLObjectType) -> bool:
        if condition == runtime.name:
            return True
        conditional = self.schema.get_type(condition)
        return conditional is not None and is_abstract_type(conditional) and self.schema.is_sub_type(
            conditional, runtime)

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode | Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name in ("skip", "include"):
                condition = self._condition(directive)
                if condition is (name == "skip"):
                    return False
        return True

    def _condition(self, directive: DirectiveNode) -> bool | None:
        for argument in directive.arguments or ():
            if argument.name.value == "if":
                value = argument.value
                if isinstance(value, VariableNode):
                    found = self.variables.get(value.name.value)
                    return found if isinstance(found, bool) else None
                return value.value if isinstance(value, BooleanValueNode) else None
        return None

    def _arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        if not definition.args:
            return {}
        given = {a.name.value: a.value for a in node.arguments or ()}
        values: dict[str, Any] = {}
        for name, argument in definition.args.items():
            value: Any = Undefined
            ast = given.get(name)
            if isinstance(ast, VariableNode):
                value = self.variables.get(ast.name.value, Undefined)
            elif ast is not None:
                value = value_from_ast(ast, argument.type, self.variables)
            if value is Undefined or value is None:
                # Resolvers read a missing or null page size as the argument's default.
                value = argument.default_value
            if value is not Undefined:
                values[name] = value
        return values


def _is_list(type_: GraphQLOutputType) -> bool:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        if isinstance(type_, GraphQLList):
            return True
        type_ = type_.of_type
    return False


def _unwraps_relay(parent: GraphQLObjectType, name: str) -> bool:
    """``edges`` of a connection type and ``node`` of an edge type, as the Relay spec shapes them."""
    fields = parent.fields
    if name == "edges":
        return "pageInfo" in fields
    return name == "node" and "cursor" in fields
