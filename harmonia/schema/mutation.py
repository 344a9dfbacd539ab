"""Operator mutations: evict cached upstream records (admins only).

    mutation { evictCache(type: CUSTOMER, id: "Q3VzdG9tZXI6MTUx") { evicted } }

The eviction reaches both tiers on every gateway instance (Redis pub/sub). Write mutations that
change a record call ``harmonia.resolvers.cached.evict(ctx.cache, "Customer", local_id)`` the same way.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from harmonia.errors import BadUserInput, Forbidden
from harmonia.resolvers.cached import evict
from harmonia.resolvers.ids import decode_id
from harmonia.schema.access import context


@strawberry.enum(description="What an admin can evict from the cache.")
class CacheEntityType(Enum):
    CUSTOMER = strawberry.enum_value("CUSTOMER", description="Contacts, shop customers, list members.")
    ORDER = strawberry.enum_value("ORDER", description="Orders, order pages, order counts.")
    CAMPAIGN = strawberry.enum_value("CAMPAIGN", description="Campaigns, their reports and metrics.")
    ANALYTICS = strawberry.enum_value("ANALYTICS", description="GA4 reports.")


# The GraphQL type each value names: ids decode against it, cache kinds are grouped by it.
TYPE_NAMES = {CacheEntityType.CUSTOMER: "Customer", CacheEntityType.ORDER: "Order",
              CacheEntityType.CAMPAIGN: "Campaign", CacheEntityType.ANALYTICS: "Analytics"}


@strawberry.type(description="What an eviction removed.")
class CacheEviction:
    type: CacheEntityType = strawberry.field(description="The type evicted.")
    id: strawberry.ID | None = strawberry.field(description="The record evicted; null: every record of the type.")
    evicted: int = strawberry.field(description="Entries removed on this instance and in Redis (others drop "
                                                "theirs on the broadcast).")


@strawberry.type(description="Changes and operator actions.")
class Mutation:
    @strawberry.mutation(description="Evict cached upstream records of a type, or one record by id, from both "
                                     "tiers on every instance. Admins only.")
    async def evict_cache(
        self,
        info: Info[Any, Any],
        type: Annotated[CacheEntityType, strawberry.argument(description="The type to evict.")],
        id: Annotated[strawberry.ID | None, strawberry.argument(
            description="A global id of that type; omit to evict the whole type.")] = None,
    ) -> CacheEviction:
        ctx = context(info)
        # The access plan already keeps everyone but the policy's admins out (an admin-plane field);
        # checked again here for code that runs the resolver some other way.
        if not ctx.access.is_admin:
            raise Forbidden("Only admins may evict the cache", requiredRoles=sorted(ctx.policy.admins))
        type_name = TYPE_NAMES[type]
        local: str | None = None
        if id is not None:
            if type is CacheEntityType.ANALYTICS:
                raise BadUserInput("Analytics reports have no id: evict the type", argument="id")
            _, local = decode_id(id, type_name)
        assert ctx.cache is not None
        removed = await evict(ctx.cache, type_name, local)
        return CacheEviction(type=type, id=id, evicted=removed)
