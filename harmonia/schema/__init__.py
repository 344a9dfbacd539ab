"""The GraphQL schema: strawberry types over the resolvers (parse and validation are cached by the pipeline)."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from harmonia.schema.query import Query
from harmonia.schema.types import DATETIME_SCALAR, Campaign, Customer, DateTime, Order


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=[Customer, Order, Campaign],
        config=StrawberryConfig(scalar_map={DateTime: DATETIME_SCALAR}),
    )
