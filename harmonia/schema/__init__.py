"""The GraphQL schema: strawberry types over the resolvers (parse and validation are cached by the pipeline)."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from harmonia.schema.admin import ADMIN_TYPES, AdminQuery
from harmonia.schema.admin import Mutation as AdminMutation
from harmonia.schema.checks import ChecksQuery
from harmonia.schema.declared import graft
from harmonia.schema.lean import make_lean
from harmonia.schema.mutation import Mutation as CacheMutation
from harmonia.schema.mutations import Mutation as WriteMutation
from harmonia.schema.mutations import PrivacyQuery
from harmonia.schema.query import Query as ReadQuery
from harmonia.schema.sources_catalog import CATALOG_TYPES, SourcesQuery
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
from harmonia.schema.usage import UsageQuery
from harmonia.sources.declared.loader import EMPTY, DeclaredSet


@strawberry.type(name="Query", description="Read customers, orders, campaigns and web analytics across every "
                                           "source, the progress of erasures, and field usage; admins also "
                                           "manage field policies here.")
class Query(ReadQuery, PrivacyQuery, UsageQuery, AdminQuery, ChecksQuery, SourcesQuery):
    """The reads, the privacy reads (``erasureStatus``), and the admins' ``fieldUsage`` and admin plane."""


@strawberry.type(name="Mutation", description="Changes written through to the sources, authorized per field, "
                                              "priced like queries (base cost 10), consistent with the cache; "
                                              "and operator actions: cache eviction, field policies (admins only).")
class Mutation(WriteMutation, CacheMutation, AdminMutation):
    """The writes plus the operators' actions: the cache's eviction and the admin plane's policy changes."""


# Output types only the admins' own fields (admin plane, evictCache, fieldUsage) lead to: not rows of
# the policy matrix, since no policy can open those fields to anyone else.
ADMINS_ONLY_TYPES = ADMIN_TYPES | CATALOG_TYPES | {"CacheEviction", "FieldUsageReport", "FieldUsage", "UsageCount",
                                   "DeprecatedFieldUsage", "ClientUsage"}


def build_schema(declared: DeclaredSet = EMPTY) -> strawberry.Schema:
    """The schema, with the declared sources' types and joins grafted on (``schema/declared.py``); each
    call builds a fresh one, so a new set of declarations never touches the schema serving now."""
    track_staleness(Query, Customer, Order, Campaign, OrderConnection, CampaignConnection)
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Customer, Order, Campaign],
        config=StrawberryConfig(scalar_map={DateTime: DATETIME_SCALAR}),
    )
    make_lean(schema)  # the same resolvers, without strawberry's per-call wrapping (see lean.py)
    schema._schema = graft(schema._schema, declared)
    return schema


def built_in_type_names() -> frozenset[str]:
    """What a declaration may not name its types (they would shadow the schema's own)."""
    return frozenset(build_schema()._schema.type_map)
