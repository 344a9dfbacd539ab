"""What each low-privilege role may get, written down from the contract (not read from the policy code),
and the checks an answer must pass: on its raw text, on its data walked with the operation, on its
introspection and on its error messages.

    expect = Expectations.of("analyst", full_schema)
    problems = expect.check(request_text, variables, document, response_text, body)   # [] when it holds

The walk groups each selection set by response key for the object's runtime type exactly as the
GraphQL spec's CollectFields does (fragments, type conditions, @skip/@include with the request's
variables), independently of the gateway's planner and executors. The runtime type of ``node(id:)`` is
read from the id the client sent (a global id is ``base64url("Type:local")``), never from the answer.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)

from harmonia.errors import CONTRACT_CODES

ADMIN_PLANE = {("Query", "fieldPolicies"), ("Query", "policyAudit"), ("Query", "dryRunPolicy"),
               ("Query", "fieldUsage"), ("Mutation", "setFieldPolicy"), ("Mutation", "removeFieldPolicy"),
               ("Mutation", "evictCache")}
MUTATIONS = ("updateCustomer", "setEmailMarketingConsent", "updateCampaignStatus", "eraseCustomer")

# The contract's demo policy, by hand: what each role may not read, and what it reads masked.
DENIED: dict[str, set[tuple[str, str]]] = {
    "analyst": {("Mutation", m) for m in MUTATIONS} | {("Query", "erasureStatus"), ("Query", "customerByEmail")},
    "support": {("Campaign", "stats"), ("Campaign", "analytics"), ("Query", "analytics"),
                ("Mutation", "updateCampaignStatus")},
    "marketer": set(),
}
MASKED: dict[str, dict[tuple[str, str], str]] = {
    "analyst": {("Customer", "email"): "email", ("Customer", "phone"): "phone"},
    "support": {},
    "marketer": {},
}
MASK_SHAPES = {"email": re.compile(r"^(?:[^@*]?\*\*\*@[^@]+|\*\*\*)$"), "phone": re.compile(r"^\*\*\*[0-9]{0,4}$")}
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def runtime_type_of_id(global_id: Any) -> str | None:
    """The type a global id names (what ``node`` resolves it to), or None for anything else."""
    if not isinstance(global_id, str):
        return None
    try:
        text = base64.urlsafe_b64decode(global_id.strip() + "=" * (-len(global_id.strip()) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    type_name, sep, local = text.partition(":")
    return type_name if sep and local and type_name in ("Customer", "Order", "Campaign") else None


@dataclass
class Expectations:
    role: str
    schema: GraphQLSchema
    denied: set[tuple[str, str]]
    masked: dict[tuple[str, str], str]
    hidden_names: set[str] = field(default_factory=set)   # what its introspection must never show
    secret_names: set[str] = field(default_factory=set)   # what no error message may name, unless it asked

    @classmethod
    def of(cls, role: str, schema: GraphQLSchema) -> Expectations:
        expect = cls(role, schema, DENIED[role] | ADMIN_PLANE, MASKED[role])
        types, fields = _outside(schema, expect.denied)
        expect.hidden_names = types | fields
        # Messages: no field outside its schema, no type of the admin plane. (A denied field's own type
        # may be named, e.g. "Field 'stats' of type 'CampaignStats' must have a selection of subfields":
        # that the field exists is what its FORBIDDEN answer says anyway.)
        expect.secret_names = fields | _outside(schema, ADMIN_PLANE)[0]
        return expect

    # --- the checks ---------------------------------------------------------------------------

    def check(self, request_text: str, document: DocumentNode | None, variables: dict[str, Any] | None,
              status: int, body: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        if status >= 500:
            problems.append(f"status {status}")
        asked = request_text.lower()
        for error in body.get("errors", ()):
            code = error.get("extensions", {}).get("code")
            if code not in CONTRACT_CODES or code == "INTERNAL":
                problems.append(f"error code {code}: {error}")
            message = error.get("message", "")
            for name in self.secret_names:
                if f"'{name}'" in message and name.lower() not in asked:
                    problems.append(f"an error names {name!r}, outside the {self.role}'s schema: {message}")
        data = body.get("data")
        if document is not None and isinstance(data, dict):
            operation = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None)
            if operation is not None:
                fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
                root = self.schema.get_root_type(operation.operation)
                if root is not None:
                    walk = _Walk(self, fragments, variables or {}, problems)
                    walk.object(operation.selection_set, root, data, "data")
        return problems


def _outside(schema: GraphQLSchema, denied: set[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """(type names, field and argument names) of the schema that nothing outside ``denied`` leads to."""
    types = {n for n in schema.type_map if not n.startswith("__")} - BUILT_IN
    names: set[str] = set()
    for t in schema.type_map.values():
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType) \
                and not t.name.startswith("__"):
            names |= set(t.fields)
            names |= {a for f in t.fields.values() for a in getattr(f, "args", {})}
    # Directives, introspection's own types and their fields and arguments are everyone's.
    seen_names = {d.name for d in schema.directives} | {a for d in schema.directives for a in d.args}
    for t in schema.type_map.values():
        if t.name.startswith("__") and isinstance(t, GraphQLObjectType):
            seen_names |= set(t.fields) | {a for f in t.fields.values() for a in f.args}
    seen_types: set[str] = set()
    roots = [schema.query_type, schema.mutation_type]
    todo: list[Any] = [r for r in roots if r is not None and any((r.name, f) not in denied for f in r.fields)]
    while todo:
        graphql_type = todo.pop()
        if graphql_type.name in seen_types:
            continue
        seen_types.add(graphql_type.name)
        if isinstance(graphql_type, GraphQLInterfaceType):
            todo += schema.get_possible_types(graphql_type)
        if not isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            continue
        for name, definition in graphql_type.fields.items():
            if (graphql_type.name, name) in denied:
                continue
            seen_names.add(name)
            todo.append(get_named_type(definition.type))
            for argument_name, argument in getattr(definition, "args", {}).items():
                seen_names.add(argument_name)
                todo.append(get_named_type(argument.type))
    return types - seen_types, names - seen_names


class _Walk:
    def __init__(self, expect: Expectations, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], problems: list[str]) -> None:
        self.expect = expect
        self.fragments = fragments
        self.variables = variables
        self.problems = problems

    def included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        for directive in node.directives or ():
            argument = next((a for a in directive.arguments or () if a.name.value == "if"), None)
            if argument is None:
                continue
            value: Any = argument.value
            if isinstance(value, VariableNode):
                condition = self.variables.get(value.name.value)
            elif isinstance(value, BooleanValueNode):
                condition = value.value
            else:
                condition = None
            if directive.name.value == "skip" and condition is True:
                return False
            if directive.name.value == "include" and condition is not True:
                return False
        return True

    def applies(self, condition: str | None, runtime: GraphQLObjectType) -> bool:
        if condition is None or condition == runtime.name:
            return True
        abstract = self.expect.schema.get_type(condition)
        return isinstance(abstract, GraphQLInterfaceType) and runtime in self.expect.schema.get_possible_types(abstract)

    def collect(self, selection_set: SelectionSetNode, runtime: GraphQLObjectType,
                into: dict[str, list[FieldNode]], visited: set[str]) -> None:
        for selection in selection_set.selections:
            if not self.included(selection):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                into.setdefault((selection.alias or selection.name).value, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else None
                if self.applies(condition, runtime):
                    self.collect(selection.selection_set, runtime, into, visited)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in visited:
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and self.applies(fragment.type_condition.name.value, runtime):
                    self.collect(fragment.selection_set, runtime, into, visited | {selection.name.value})

    def object(self, selection_set: SelectionSetNode, runtime: GraphQLObjectType, value: dict[str, Any],
               path: str) -> None:
        groups: dict[str, list[FieldNode]] = {}
        self.collect(selection_set, runtime, groups, set())
        for key, nodes in groups.items():
            if key not in value:
                continue
            self.field(runtime, nodes, value[key], f"{path}.{key}")

    def field(self, runtime: GraphQLObjectType, nodes: list[FieldNode], value: Any, path: str) -> None:
        name = nodes[0].name.value
        coordinate = (runtime.name, name)
        if name == "__typename":
            if value != runtime.name:
                self.problems.append(f"{path}: __typename {value!r} on a {runtime.name}")
            return
        if name in ("__schema", "__type"):
            shown = _strings(value) & self.expect.hidden_names
            if shown:
                self.problems.append(f"{path}: introspection shows {sorted(shown)} to {self.expect.role}")
            return
        if value is None:
            return
        if coordinate in self.expect.denied:
            self.problems.append(f"{path}: {runtime.name}.{name} is denied to {self.expect.role}, got {value!r:.80}")
            return
        mask = self.expect.masked.get(coordinate)
        if mask is not None and not (isinstance(value, str) and MASK_SHAPES[mask].match(value)):
            self.problems.append(f"{path}: {runtime.name}.{name} must be masked for {self.expect.role}: {value!r}")
        definition = runtime.fields.get(name)
        if definition is None or is_leaf_type(get_named_type(definition.type)):
            return
        children = SelectionSetNode(selections=tuple(s for n in nodes for s in (n.selection_set.selections
                                                                                if n.selection_set else ())))
        named = get_named_type(definition.type)
        for item in _items(definition.type, value):
            runtime_type: Any = named
            if not isinstance(named, GraphQLObjectType):
                runtime_type = self.expect.schema.get_type(self.node_type(nodes) or "")
            if isinstance(runtime_type, GraphQLObjectType) and isinstance(item, dict):
                self.object(children, runtime_type, item, path)

    def node_type(self, nodes: list[FieldNode]) -> str | None:
        """``node(id:)``'s runtime type, from the id the client sent."""
        argument = next((a for a in nodes[0].arguments or () if a.name.value == "id"), None)
        if argument is None:
            return None
        if isinstance(argument.value, StringValueNode):
            return runtime_type_of_id(argument.value.value)
        if isinstance(argument.value, VariableNode):
            return runtime_type_of_id(self.variables.get(argument.value.name.value))
        return None


def _items(graphql_type: Any, value: Any) -> Iterable[Any]:
    if isinstance(graphql_type, GraphQLNonNull):
        graphql_type = graphql_type.of_type
    if isinstance(graphql_type, GraphQLList):
        for item in value if isinstance(value, list) else ():
            yield from _items(graphql_type.of_type, item)
    else:
        yield value


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*map(_strings, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(_strings, value)) if value else set()
    return {value} if isinstance(value, str) else set()
