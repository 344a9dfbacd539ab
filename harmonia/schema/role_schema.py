"""The schema as one kind of principal sees it: what it may ask for, and what it may read (what its
introspection, GraphiQL's docs, its validation errors and their "Did you mean" show).

    schemas = RoleSchemas(schema)
    view = schemas.view(policy.access_for(frozenset({"support"}), frozenset()))
    "stats" in view.readable.get_type("Campaign").fields      # False: support may not read it
    "stats" in view.valid.get_type("Campaign").fields         # True: asking for it is FORBIDDEN, not invalid
    "fieldPolicies" in view.valid.query_type.fields           # False: hidden (the admin plane)

``readable``: a field is shown when the principal may read it (masked fields are shown: they are
readable), when no lookup it must make is refused (``customerByEmail`` for the analyst; an optional
lookup argument is dropped instead) and, for an object field, when its type shows at least one field.
``valid``: every field but those *hidden* from the principal (the admin plane, fields the policy
marks hidden): a denied field validates and is then answered null with FORBIDDEN and the roles that
would do, a hidden one is a plain validation error. An operation valid against ``valid`` runs (its
denied fields answer FORBIDDEN); an invalid one is answered with ``readable``'s errors, so that no
message or suggestion names a field, argument or type the principal may not read. In both, types
left without a field vanish with every field that leads to them, and an interface keeps only the
fields every one of its shown implementations keeps, so each is a valid schema. One view per policy
version and kind of principal (roles and scopes), built on first use; the resolvers are the full
schema's own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    is_leaf_type,
)

from harmonia.auth.policy import FieldAccess, Policy

Keep = Callable[[str, str], bool]


@dataclass(frozen=True, eq=False)
class RoleView:
    """One kind of principal's schemas: what it may ask for, what it may read."""

    valid: GraphQLSchema
    readable: GraphQLSchema | None            # None: this principal may read nothing at all


class RoleSchemas:
    def __init__(self, schema: GraphQLSchema, size: int = 64) -> None:
        self.schema = schema
        self.size = size
        self.full = RoleView(schema, schema)
        self._built: OrderedDict[tuple[Any, ...], tuple[Policy, RoleView]] = OrderedDict()
        # The hot path: the same principal kind's memoised access object asks again (kept with its view).
        self._last: dict[int, tuple[FieldAccess, RoleView]] = {}

    def view(self, access: FieldAccess) -> RoleView:
        if access.is_admin:
            return self.full
        known = self._last.get(id(access))
        if known is not None and known[0] is access:
            return known[1]
        view = self._view(access)
        if len(self._last) >= self.size:
            self._last.clear()
        self._last[id(access)] = (access, view)
        return view

    def _view(self, access: FieldAccess) -> RoleView:
        key = (id(access.policy), access.policy.version, access.roles, access.scopes)
        found = self._built.get(key)
        # The policy is kept with its view, so its id cannot be another policy's while the view is here.
        if found is not None and found[0] is access.policy:
            self._built.move_to_end(key)
            return found[1]
        readable = _filter(self.schema, _visible_fields(self.schema, lambda t, f: _readable(self.schema, access, t, f)),
                           _refused_lookups(self.schema, access))
        valid = _filter(self.schema, _visible_fields(self.schema, lambda t, f: not access.hides(t, f)), {})
        assert valid is not None  # the root type always keeps a field: nothing hides __typename's parent
        built = RoleView(valid, readable)
        self._built[key] = (access.policy, built)
        if len(self._built) > self.size:
            self._built.popitem(last=False)
        return built

    def for_access(self, access: FieldAccess) -> GraphQLSchema | None:
        """The schema its introspection shows (None: this principal may read nothing at all)."""
        return self.view(access).readable


def _readable(schema: GraphQLSchema, access: FieldAccess, type_name: str, field_name: str) -> bool:
    if not access.decide(type_name, field_name).allowed:
        return False
    graphql_type = schema.get_type(type_name)
    assert isinstance(graphql_type, GraphQLObjectType)
    args = graphql_type.fields[field_name].args
    # A lookup the principal may not make, on an argument it cannot leave out: the field is of no use.
    return all(access.decide_lookup(lookup).allowed for lookup in access.lookups(type_name, field_name)
               if "." in lookup.argument or lookup.argument not in args or _required(args[lookup.argument]))


def _required(argument: GraphQLArgument) -> bool:
    return isinstance(argument.type, GraphQLNonNull) and argument.default_value is Undefined


def _refused_lookups(schema: GraphQLSchema, access: FieldAccess) -> dict[tuple[str, str], frozenset[str]]:
    """Optional top-level lookup arguments the principal may not use: left out of its schema."""
    refused: dict[tuple[str, str], frozenset[str]] = {}
    for (type_name, field_name), lookups in access.policy.lookups.items():
        names = frozenset(k.argument for k in lookups if "." not in k.argument and not access.decide_lookup(k).allowed)
        if names:
            refused[(type_name, field_name)] = names
    return refused


def _visible_fields(schema: GraphQLSchema, keep: Keep) -> dict[str, list[str]]:
    objects = {n: t for n, t in schema.type_map.items()
               if isinstance(t, GraphQLObjectType) and not n.startswith("__")}
    shown = {n: [f for f in t.fields if keep(n, f)] for n, t in objects.items()}
    while True:  # drop fields leading to types that show nothing, until nothing changes
        alive = {n for n, fields in shown.items() if fields}
        interfaces = {n for n, t in schema.type_map.items() if isinstance(t, GraphQLInterfaceType)
                      and any(o in alive for o in (p.name for p in schema.get_possible_types(t)))}
        unions = {n for n, t in schema.type_map.items() if isinstance(t, GraphQLUnionType)
                  and any(m.name in alive for m in t.types)}

        narrowed = {n: [f for f in fields if _leads_to(objects[n].fields[f], alive | interfaces | unions)]
                    for n, fields in shown.items()}
        if narrowed == shown:
            return shown
        shown = narrowed


def _leads_to(field: GraphQLField, composite: set[str]) -> bool:
    named = get_named_type(field.type)
    return is_leaf_type(named) or named.name in composite


def _filter(schema: GraphQLSchema, shown: dict[str, list[str]],
            refused_arguments: Mapping[tuple[str, str], frozenset[str]]) -> GraphQLSchema | None:
    built: dict[str, GraphQLNamedType] = {}

    def interface_fields(iface: GraphQLInterfaceType) -> list[str]:
        implementers = [t.name for t in schema.get_possible_types(iface) if shown.get(t.name)]
        return [f for f in iface.fields if implementers and all(f in shown[i] for i in implementers)]

    def remap(graphql_type: Any) -> Any:
        if isinstance(graphql_type, GraphQLNonNull):
            return GraphQLNonNull(remap(graphql_type.of_type))
        if isinstance(graphql_type, GraphQLList):
            return GraphQLList(remap(graphql_type.of_type))
        return named(graphql_type)

    def copy_field(owner: str, name: str, field: GraphQLField) -> GraphQLField:
        refused = refused_arguments.get((owner, name), frozenset())
        args = {a: v for a, v in field.args.items() if a not in refused} if refused else field.args
        return GraphQLField(remap(field.type), args=args, resolve=field.resolve, subscribe=field.subscribe,
                            description=field.description, deprecation_reason=field.deprecation_reason,
                            extensions=field.extensions, ast_node=field.ast_node)

    # Thunks: types refer to each other (Customer -> OrderConnection -> Order -> Customer).
    def fields_thunk(original: GraphQLObjectType | GraphQLInterfaceType, keep: list[str]) -> Any:
        return lambda: {f: copy_field(original.name, f, original.fields[f]) for f in keep}

    def types_thunk(members: list[Any]) -> Any:
        return lambda: [named(m) for m in members]

    def named(original: GraphQLNamedType) -> GraphQLNamedType:
        if original.name in built:
            return built[original.name]
        result: GraphQLNamedType
        if isinstance(original, GraphQLObjectType):
            ifaces = [i for i in original.interfaces if interface_fields(i)]
            result = GraphQLObjectType(
                original.name, fields=fields_thunk(original, shown.get(original.name, [])),
                interfaces=types_thunk(ifaces), is_type_of=original.is_type_of, description=original.description,
                extensions=original.extensions, ast_node=original.ast_node)
        elif isinstance(original, GraphQLInterfaceType):
            result = GraphQLInterfaceType(
                original.name, fields=fields_thunk(original, interface_fields(original)),
                resolve_type=original.resolve_type, description=original.description,
                extensions=original.extensions, ast_node=original.ast_node)
        elif isinstance(original, GraphQLUnionType):
            members = [m for m in original.types if shown.get(m.name)]
            result = GraphQLUnionType(original.name, types=types_thunk(members),
                                      resolve_type=original.resolve_type, description=original.description)
        else:
            result = original  # scalars, enums and inputs are the same for everyone
        built[original.name] = result
        return result

    if not shown.get(schema.query_type.name if schema.query_type else ""):
        return None
    assert schema.query_type is not None
    query = named(schema.query_type)
    mutation = named(schema.mutation_type) if schema.mutation_type and shown.get(schema.mutation_type.name) else None
    implementers = [named(t) for n, t in schema.type_map.items()
                    if isinstance(t, GraphQLObjectType) and shown.get(n) and t.interfaces]
    filtered = GraphQLSchema(query=query, mutation=mutation,  # type: ignore[arg-type]
                             types=implementers, directives=schema.directives, description=schema.description)
    # Resolvers that ask strawberry for its schema still find it.
    filtered._strawberry_schema = getattr(schema, "_strawberry_schema", None)  # type: ignore[attr-defined]
    return filtered
