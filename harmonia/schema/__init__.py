"""The GraphQL schema: strawberry types over the resolvers (parse and validation are cached by the pipeline)."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from harmonia.schema.mutation import Mutation
from harmonia.schema.query import Query
from harmonia.schema.staleness import track_staleness
from harmonia.schema.types import (
    DATETIME_SCALAR,
    Campaign,
    CampaignConnection,
    Customer,
    DateTime,
    Order,
    OrderConnection,
)


def build_schema() -> strawberry.Schema:
    track_staleness(Query, Customer, Order, Campaign, OrderConnection, CampaignConnection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Customer, Order, Campaign],
        config=StrawberryConfig(scalar_map={DateTime: DATETIME_SCALAR}),
    )
