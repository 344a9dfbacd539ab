"""Field access checks at the schema edge: deny with FORBIDDEN, or mask, from the principal's policy."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from harmonia.auth.policy import apply_mask
from harmonia.errors import Forbidden
from harmonia.resolvers.context import RequestContext

TYPE_LEVEL = "__type__"


def context(info: Info[Any, Any]) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


def require(info: Info[Any, Any], type_name: str, field_name: str = TYPE_LEVEL) -> RequestContext:
    """Raise FORBIDDEN (the field resolves to null) unless the principal may read it."""
    ctx = context(info)
    decision = ctx.access.decide(type_name, field_name)
    if not decision.allowed:
        what = type_name if field_name == TYPE_LEVEL else f"{type_name}.{field_name}"
        raise Forbidden(f"Not allowed to read {what}", requiredRoles=list(decision.missing_roles))
    return ctx


def masked(info: Info[Any, Any], type_name: str, field_name: str, value: str | None) -> str | None:
    decision = context(info).access.decide(type_name, field_name)
    if not decision.allowed:
        raise Forbidden(f"Not allowed to read {type_name}.{field_name}",
                        requiredRoles=list(decision.missing_roles))
    return apply_mask(decision.mask, value) if decision.mask else value
