"""The schema as the policy sees it: every object type's fields, with their type, nullability and kind.

    catalog = catalog_of(schema)            # {"Customer": {"email": FieldShape("String", True, True, True)}}
    policy = load_policy(path, catalog)     # unknown types and fields are refused with their line
"""

from __future__ import annotations

from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema, get_named_type, is_leaf_type

from harmonia.auth.rules import FieldShape


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
                leaf=is_leaf_type(named), string=named.name in ("String", "ID"))
        catalog[name] = fields
    return catalog
