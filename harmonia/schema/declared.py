"""Declared types in the schema: grafted onto the built schema, resolved by the same per-request loaders.

    schema = build_schema(found)          # found: the DeclaredSet in force (harmonia.sources.declared)
    schema._schema.get_type("KlaviyoProfile")                    # a type of its own
    schema._schema.get_type("Customer").fields["klaviyoProfile"]  # the join, batched by email

Each declared type becomes an object type whose fields read the record's selected, normalized values
(``DateTime`` and ``Money`` are the schema's own). A customer extension adds a nullable field to
``Customer`` that loads the record by the customer's normalized email through the declared source's
DataLoader, with a batch companion so the compiled executor asks for a page of customers at once.
Campaign extensions need no schema change beyond the channel: their records are ``Campaign``s.
Every resolver carries its ``Lean`` mark, so the compiled executor plans declared fields as it plans
built-in ones (``harmonia.execution``): no second executor, no per-field wrapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
)

from harmonia.cache.stale import begin, end
from harmonia.resolvers.declared import declared_record
from harmonia.schema.lean import Lean, Raw
from harmonia.settings import Settings
from harmonia.sources.declared.loader import DeclaredSet
from harmonia.sources.declared.model import CustomerExtension, Declaration, FieldDecl

BUILT_IN_SCALARS: dict[str, GraphQLOutputType] = {"ID": GraphQLID, "String": GraphQLString, "Int": GraphQLInt,
                                                  "Float": GraphQLFloat, "Boolean": GraphQLBoolean}


def graft(base: GraphQLSchema, found: DeclaredSet) -> GraphQLSchema:
    """``base`` with every declared type and join; ``base``'s own types are extended in place, so it must
    be a schema built for this purpose (``build_schema`` builds a fresh one each time)."""
    if not found.files:
        return base
    new_types: list[GraphQLObjectType] = []
    for declaration in found.declarations:
        made = {name: _object_type(declaration, name, base) for name in declaration.types}
        new_types += made.values()
        customer = base.type_map["Customer"]
        assert isinstance(customer, GraphQLObjectType)
        for ext in declaration.extends.customer:
            customer.fields[ext.field] = _customer_field(declaration.name, ext, made[ext.type])
    grafted = GraphQLSchema(query=base.query_type, mutation=base.mutation_type, subscription=base.subscription_type,
                            types=[*base.type_map.values(), *new_types], directives=base.directives,
                            description=base.description)
    grafted._strawberry_schema = getattr(base, "_strawberry_schema", None)  # type: ignore[attr-defined]
    return grafted


def field_weights(found: DeclaredSet) -> dict[str, int]:
    """Pricing: a join to a declared type costs that type's declared ``cost`` per record."""
    weights = {}
    for declaration in found.declarations:
        for ext in declaration.extends.customer:
            weights[f"Customer.{ext.field}"] = declaration.types[ext.type].cost
    return weights


def with_declared_weights(settings: Settings, found: DeclaredSet) -> Settings:
    """``settings`` whose cost model also prices the declared joins (configured weights win)."""
    weights = {**field_weights(found), **settings.limits.field_weights}
    return settings.model_copy(update={"limits": settings.limits.model_copy(update={"field_weights": weights})})


def _output_type(field: FieldDecl, base: GraphQLSchema) -> GraphQLOutputType:
    named = field.type.rstrip("!")
    graphql_type = cast(GraphQLOutputType, BUILT_IN_SCALARS.get(named) or base.type_map[named])
    return GraphQLNonNull(graphql_type) if field.type.endswith("!") else graphql_type  # type: ignore[arg-type]


def _object_type(declaration: Declaration, name: str, base: GraphQLSchema) -> GraphQLObjectType:
    decl = declaration.types[name]
    title = declaration.title or declaration.name
    fields = {field_name: GraphQLField(_output_type(f, base), resolve=_reader(field_name),
                                       description=f.description or None)
              for field_name, f in decl.fields.items()}
    return GraphQLObjectType(name, fields=fields,
                             description=f"{decl.description or name} (declared source: {title}).")


def _reader(field_name: str) -> Callable[..., Any]:
    def read(record: Any) -> Any:
        return record.fields.get(field_name)

    def resolve(record: Any, _info: Raw) -> Any:
        return record.fields.get(field_name)

    resolve.__harmonia_lean__ = Lean("source", fn=read)  # type: ignore[attr-defined]
    return resolve


def _customer_field(source: str, ext: CustomerExtension, target: GraphQLObjectType) -> GraphQLField:
    type_name = target.name

    async def resolve(customer: Any, info: Raw) -> Any:
        notes, token = begin()  # stale records (the source failed) are listed in extensions.stale
        try:
            return await declared_record(info.context, source, type_name, customer._contact.email)
        finally:
            end(token)
            if notes:
                info.context.note_stale(info.path.as_list(), notes)

    async def batch(customers: list[Any], info: Raw) -> list[Any]:
        """The field for a page of customers: their emails in one DataLoader tick (one call per batch)."""
        api = info.context.sources.declared.apis.get(source)
        if api is None:
            return [None] * len(customers)
        loader = info.context.loaders.declared.by_key(api, type_name, "Customer")
        answers: list[Any] = await loader.load_each([c._contact.email for c in customers])
        return answers

    resolve.__harmonia_lean__ = Lean("async", batch=batch)  # type: ignore[attr-defined]
    return GraphQLField(target, resolve=resolve, description=ext.description or None)
