"""The GraphQL schema: strawberry types over the resolvers (parse and validation are cached by the pipeline)."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from harmonia.schema.mutations import Mutation, PrivacyQuery
from harmonia.schema.query import Query as ReadQuery
from harmonia.schema.types import DATETIME_SCALAR, Campaign, Customer, DateTime, Order


@strawberry.type(name="Query", description="Read customers, orders, campaigns and web analytics across every "
                                           "source, and the progress of erasures.")
class Query(ReadQuery, PrivacyQuery):
    """The reads plus the privacy reads (``erasureStatus``)."""


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Customer, Order, Campaign],
        config=StrawberryConfig(scalar_map={DateTime: DATETIME_SCALAR}),
    )
