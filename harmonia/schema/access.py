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

from harmonia.errors import Forbidden
from harmonia.resolvers.context import RequestContext


def context(info: Info[Any, Any]) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


def require(info: Info[Any, Any], type_name: str, field_name: str) -> RequestContext:
    """For a resolver that must decide inside (e.g. a write touching several fields): FORBIDDEN unless allowed.

    Reads never need it: the operation's access plan has already taken denied fields out.
    """
    ctx = context(info)
    decision = ctx.access.decide(type_name, field_name)
    if not decision.allowed:
        raise Forbidden(f"Not allowed to read {type_name}.{field_name}", **decision.why())
    return ctx
