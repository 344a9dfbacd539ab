"""The schema as one kind of principal may see it: what introspection and GraphiQL's docs show.

    schemas = RoleSchemas(schema)
    visible = schemas.for_access(policy.access_for(frozenset({"support"}), frozenset()))
    "stats" in visible.get_type("Campaign").fields      # False: support may not read it

A field is shown when the principal may read it (masked fields are shown: they are readable) and,
for an object field, when its type shows at least one field. Types left without a field vanish
with every field that leads to them; an interface keeps only the fields every one of its shown
implementations keeps, so the filtered schema stays valid. One schema per policy and kind of
principal (roles and scopes), built on first use; the resolvers are the full schema's own.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    get_named_type,
    is_leaf_type,
)

from harmonia.auth.policy import FieldAccess

INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


def introspects(operation: OperationDefinitionNode) -> bool:
    """Whether the operation asks for ``__schema`` or ``__type`` at its root."""
    return any(getattr(getattr(s, "name", None), "value", None) in INTROSPECTION_ROOTS
               for s in operation.selection_set.selections)


class RoleSchemas:
    def __init__(self, schema: GraphQLSchema, size: int = 64) -> None:
        self.schema = schema
        self.size = size
        self._built: OrderedDict[tuple[Any, ...], GraphQLSchema | None] = OrderedDict()

    def for_access(self, access: FieldAccess) -> GraphQLSchema | None:
        """The filtered schema (None: this principal may read nothing at all)."""
        if access.is_admin:
            return self.schema
        key = (id(access.policy), access.policy.version, access.roles, access.scopes)
        if key in self._built:
            self._built.move_to_end(key)
            return self._built[key]
        built = _filter(self.schema, access)
        self._built[key] = built
        if len(self._built) > self.size:
            self._built.popitem(last=False)
        return built


def _visible_fields(schema: GraphQLSchema, access: FieldAccess) -> dict[str, list[str]]:
    objects = {n: t for n, t in schema.type_map.items()
               if isinstance(t, GraphQLObjectType) and not n.startswith("__")}
    readable = {n: [f for f in t.fields if access.decide(n, f).allowed] for n, t in objects.items()}
    shown = dict(readable)
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


def _filter(schema: GraphQLSchema, access: FieldAccess) -> GraphQLSchema | None:
    shown = _visible_fields(schema, access)
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

    def copy_field(field: GraphQLField) -> GraphQLField:
        return GraphQLField(remap(field.type), args=field.args, resolve=field.resolve, subscribe=field.subscribe,
                            description=field.description, deprecation_reason=field.deprecation_reason,
                            extensions=field.extensions, ast_node=field.ast_node)

    # Thunks: types refer to each other (Customer -> OrderConnection -> Order -> Customer).
    def fields_thunk(original: GraphQLObjectType | GraphQLInterfaceType, keep: list[str]) -> Any:
        return lambda: {f: copy_field(original.fields[f]) for f in keep}

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
