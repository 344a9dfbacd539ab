"""The GraphQL schema: strawberry types over the resolvers."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from harmonia.schema.query import Query
from harmonia.schema.types import Campaign, Customer, Order


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=[Customer, Order, Campaign],
        extensions=[ParserCache(maxsize=512), ValidationCache(maxsize=512)],
    )
