"""The schema as the policy sees it: every object type's fields, with their type, nullability, kind and
arguments (with dotted paths into input objects, for the policy's ``searches``).

    catalog = catalog_of(schema)            # {"Customer": {"email": FieldShape("String", True, True, True)}}
    policy = load_policy(path, catalog)     # unknown types and fields are refused with their line
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    GraphQLArgument,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
)

from harmonia.auth.rules import FieldShape

ARGUMENT_DEPTH = 3  # input objects nest; paths deeper than this are not offered to ``searches``


def catalog_of(schema: GraphQLSchema) -> dict[str, dict[str, FieldShape]]:
    catalog: dict[str, dict[str, FieldShape]] = {}
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        fields: dict[str, FieldShape] = {}
        for field_name, field in graphql_type.fields.items():
            named = get_named_type(field.type)
            fields[field_name] = FieldShape(
                type_name=named.name, nullable=not isinstance(field.type, GraphQLNonNull),
                leaf=is_leaf_type(named), string=named.name in ("String", "ID"),
                arguments=frozenset(_paths(field.args, "", ARGUMENT_DEPTH)))
        catalog[name] = fields
    return catalog


def _paths(arguments: Mapping[str, GraphQLArgument | GraphQLInputField], prefix: str, depth: int) -> list[str]:
    paths = []
    for name, argument in arguments.items():
        path = prefix + name
        paths.append(path)
        named = get_named_type(argument.type)
        if isinstance(named, GraphQLInputObjectType) and depth > 1:
            paths += _paths(named.fields, path + ".", depth - 1)
    return paths
