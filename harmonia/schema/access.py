"""The request context as resolvers see it.

Field access is not checked here, per field: ``harmonia.schema.authorize`` decides it once per
operation before execution (denied fields never reach a resolver) and ``AccessPlan.apply`` masks
and nulls at the schema edge afterwards.

    ctx = context(info)
    contact = await ctx.loaders.contact_by_id.load("151")
"""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from harmonia.resolvers.context import RequestContext


def context(info: Info[Any, Any]) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx
