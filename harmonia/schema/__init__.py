"""The GraphQL schema: strawberry types over the resolvers (parse and validation are cached by the pipeline)."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from harmonia.schema.admin import AdminQuery, Mutation
from harmonia.schema.query import Query
from harmonia.schema.types import DATETIME_SCALAR, Campaign, Customer, DateTime, Order


@strawberry.type(name="Query", description="Read customers, orders, campaigns and web analytics across every "
                                           "source; admins also manage field policies here.")
class RootQuery(Query, AdminQuery):
    """The data entry points plus the admin plane's queries (admins only)."""


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=RootQuery,
        mutation=Mutation,
        types=[Customer, Order, Campaign],
        config=StrawberryConfig(scalar_map={DateTime: DATETIME_SCALAR}),
    )
