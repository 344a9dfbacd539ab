"""Decide an operation's field access once, from its selection set, before anything resolves.

    plan = authorize(schema, document, operation, access)
    plan.document      # the operation without its denied fields: execute this
    plan.denied        # where to put null + FORBIDDEN afterwards
    plan.masked        # where to mask afterwards

Each selected field is decided for every runtime type it can have (fragments on interfaces
included) from the principal's memoised ``FieldAccess``: one dict lookup per field of the
*document*, none per field of the *response*. An object field whose selected fields are all denied
is denied itself, with the union of what its fields would need, and taken out of the document:
no resolver runs for it and no upstream call is made for it. Fragments are inlined on the way
(the plan is per operation anyway), and ``__typename`` is asked for under an alias only where a
decision depends on the runtime type (under a key no client can write: ``TYPENAME_KEY``).
Introspection fields are left alone, wherever they are (fragments, aliases): the plan notes them so
that the operation runs on the principal's own schema, which answers them. A lookup (an argument
that searches by a field, ``customerByEmail(email:)``) is denied like a field unless the principal
reads the searched field in clear; an argument counts as given when it is written (a variable counts,
whatever its value) or has a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from graphql.language import get_location

from harmonia.auth.policy import FieldAccess
from harmonia.auth.rules import Decision
from harmonia.schema.access_plan import TYPENAME_KEY, AccessPlan, Site, Step

INTROSPECTION = frozenset({"__schema", "__type"})


@dataclass
class _Outcome:
    """What planning one selection set found."""

    selections: list[SelectionNode] = field(default_factory=list)
    allowed: bool = False                      # some field below is readable
    denied: list[Decision] = field(default_factory=list)
    needs_typename: bool = False


class _Planner:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 access: FieldAccess) -> None:
        self.schema = schema
        self.fragments = fragments
        self.access = access
        self.plan_denied: list[Site] = []
        self.plan_masked: list[Site] = []
        self.typename_injected = False
        self.introspects = False

    def possible(self, graphql_type: GraphQLCompositeType) -> frozenset[str]:
        if isinstance(graphql_type, GraphQLObjectType):
            return frozenset({graphql_type.name})
        return frozenset(t.name for t in self.schema.get_possible_types(graphql_type))

    def selection_set(self, parent: GraphQLCompositeType, node: SelectionSetNode,
                      steps: tuple[Step, ...]) -> _Outcome:
        outcome = _Outcome()
        position = self.possible(parent)
        order = self.response_keys(node)
        self.selections(node, position, position, steps, order, outcome)
        if outcome.needs_typename and outcome.selections:
            outcome.selections.append(FieldNode(alias=NameNode(value=TYPENAME_KEY), name=NameNode(value="__typename"),
                                                arguments=(), directives=()))
            self.typename_injected = True
        return outcome

    def response_keys(self, node: SelectionSetNode) -> tuple[str, ...]:
        keys: list[str] = []
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                if key not in keys:
                    keys.append(key)
            else:
                inner = self.inner(selection)
                keys += [k for k in self.response_keys(inner) if k not in keys]
        return tuple(keys)

    def inner(self, selection: SelectionNode) -> SelectionSetNode:
        if isinstance(selection, FragmentSpreadNode):
            return self.fragments[selection.name.value].selection_set
        assert isinstance(selection, InlineFragmentNode)
        return selection.selection_set

    def selections(self, node: SelectionSetNode, position: frozenset[str], types: frozenset[str],
                   steps: tuple[Step, ...], order: tuple[str, ...], out: _Outcome) -> None:
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                self.field(selection, position, types, steps, order, out)
                continue
            condition: NamedTypeNode | None
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                condition, inner_set, directives = fragment.type_condition, fragment.selection_set, \
                    selection.directives
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition, inner_set, directives = selection.type_condition, selection.selection_set, \
                    selection.directives
            narrowed = types
            if condition is not None:
                condition_type = self.schema.get_type(condition.name.value)
                assert is_composite_type(condition_type)
                narrowed = types & self.possible(condition_type)
            inner = _Outcome()
            self.selections(inner_set, position, narrowed, steps, order, inner)
            out.allowed |= inner.allowed
            out.denied += inner.denied
            out.needs_typename |= inner.needs_typename
            if inner.selections:
                out.selections.append(InlineFragmentNode(
                    type_condition=condition, directives=directives,
                    selection_set=SelectionSetNode(selections=tuple(inner.selections))))

    def field(self, node: FieldNode, position: frozenset[str], types: frozenset[str], steps: tuple[Step, ...],
              order: tuple[str, ...], out: _Outcome) -> None:
        name = node.name.value
        if name == "__typename" or name in INTROSPECTION:
            self.introspects |= name in INTROSPECTION
            out.selections.append(node)
            return
        if not types:
            return  # a fragment that can never apply here
        sample = self.schema.get_type(next(iter(sorted(types))))
        assert isinstance(sample, GraphQLObjectType)
        definition = sample.fields[name]
        step = _step(node, definition.type)
        here = (*steps, step)
        decisions = {t: self.decide(t, node, definition) for t in sorted(types)}
        child_node = node
        named = get_named_type(definition.type)
        if node.selection_set is not None and is_composite_type(named):
            marks = len(self.plan_denied), len(self.plan_masked)
            below = self.selection_set(named, node.selection_set, here)
            if not below.allowed and below.denied:
                # The whole subtree is denied: this field stands for it (one error, not one per leaf).
                del self.plan_denied[marks[0]:], self.plan_masked[marks[1]:]
                merged = _merge(below.denied)
                decisions = {t: (merged if d.allowed else d) for t, d in decisions.items()}
            elif below.allowed or not below.denied:
                child_node = FieldNode(alias=node.alias, name=node.name, arguments=node.arguments,
                                       directives=node.directives, loc=node.loc,
                                       selection_set=SelectionSetNode(selections=tuple(below.selections)))
        denied = {t: d for t, d in decisions.items() if not d.allowed}
        location = _location(node)
        runtime = None if types == position else types
        if denied:
            only = None if len(denied) == len(decisions) else frozenset(denied)
            site_types = only if only is not None else runtime
            decision = _merge(list(denied.values()))
            label = f"{'|'.join(sorted(denied))}.{name}"
            self.plan_denied.append(Site(here, label, decision, site_types, order, location))
            out.denied.append(decision)
            out.needs_typename |= site_types is not None
            if only is None:
                return  # denied for every runtime type: out of the document
        out.allowed = True
        out.selections.append(child_node)
        masks = {t: d.mask for t, d in decisions.items() if d.allowed and d.mask}
        if masks:
            for mask in sorted(set(masks.values())):
                masked_types = frozenset(t for t, m in masks.items() if m == mask)
                site_types = None if masked_types == position else masked_types
                self.plan_masked.append(Site(here, f"{'|'.join(sorted(masked_types))}.{name}",
                                             Decision(True, mask=mask), site_types, order, location))
                out.needs_typename |= site_types is not None

    def decide(self, type_name: str, node: FieldNode, definition: GraphQLField) -> Decision:
        """The field's read decision, unless a lookup it makes is denied."""
        name = node.name.value
        decision = self.access.decide(type_name, name)
        if decision.allowed:
            for lookup in self.access.lookups(type_name, name):
                if _given(node, definition, lookup.argument):
                    searched = self.access.decide_lookup(lookup)
                    if not searched.allowed:
                        return searched
        return decision


def _given(node: FieldNode, definition: GraphQLField, path: str) -> bool:
    """Whether the argument (or the input field at the dotted ``path``) may carry a value in this field."""
    first, *rest = path.split(".")
    value: ValueNode | None = next((a.value for a in node.arguments or () if a.name.value == first), None)
    if value is None:
        argument = definition.args.get(first)
        return argument is not None and argument.default_value not in (None, Undefined)
    return _carries(value, rest)


def _carries(value: ValueNode, rest: list[str]) -> bool:
    if isinstance(value, NullValueNode):
        return False
    if not rest or isinstance(value, VariableNode):
        return True  # a variable may hold anything: counted as given, whatever this request's value
    if isinstance(value, ListValueNode):
        return any(_carries(item, rest) for item in value.values)
    if isinstance(value, ObjectValueNode):
        inner = next((f.value for f in value.fields if f.name.value == rest[0]), None)
        return inner is not None and _carries(inner, rest[1:])
    return True  # a scalar where an input object is expected: validation refuses it; count it anyway


def _location(node: FieldNode) -> tuple[dict[str, int], ...]:
    if node.loc is None:
        return ()
    where = get_location(node.loc.source, node.loc.start)
    return ({"line": where.line, "column": where.column},)


def _step(node: FieldNode, graphql_type: GraphQLOutputType) -> Step:
    nullable = not isinstance(graphql_type, GraphQLNonNull)
    inner: Any = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    items_nullable = None
    if isinstance(inner, GraphQLList):
        items_nullable = not isinstance(inner.of_type, GraphQLNonNull)
    return Step((node.alias or node.name).value, nullable, items_nullable)


def _merge(decisions: list[Decision]) -> Decision:
    seen: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, list[str]]] = {}
    for decision in decisions:
        for missing in decision.missing:
            seen.setdefault((tuple(missing["roles"]), tuple(missing["scopes"])), missing)
    searched = {d.searched for d in decisions}  # a refused lookup stays one when it is all there is
    return Decision(False, missing=tuple(seen[k] for k in sorted(seen)),
                    searched=searched.pop() if len(searched) == 1 else None)


def authorize(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
              access: FieldAccess) -> AccessPlan:
    """The access plan of ``operation`` for ``access``; admins get the document as it is."""
    if access.is_admin:
        return AccessPlan(document)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root = schema.get_root_type(operation.operation)
    assert root is not None
    planner = _Planner(schema, fragments, access)
    outcome = planner.selection_set(root, operation.selection_set, ())
    if not planner.plan_denied and not planner.typename_injected:
        # Nothing taken out: keep the original document (and graphql-core's caches keyed on it).
        return AccessPlan(document, masked=planner.plan_masked, introspects=planner.introspects)
    rewritten = OperationDefinitionNode(
        operation=operation.operation, name=operation.name, variable_definitions=operation.variable_definitions,
        directives=operation.directives, selection_set=SelectionSetNode(selections=tuple(outcome.selections)))
    return AccessPlan(DocumentNode(definitions=(rewritten,)), denied=planner.plan_denied,
                      masked=planner.plan_masked, empty=not outcome.selections,
                      typename_injected=planner.typename_injected, introspects=planner.introspects)
