"""Stale answers at the schema edge: each field that reads a source lists, at its path, what was stale.

    track_staleness(Query, Customer, Order)      # once, before building the schema

Every async field of those types gets ``StaleFields``: it opens a collector for the resolver's own
task (``harmonia.cache.stale``) and, when a record reached the resolver stale because its source
failed, adds ``{"path", "ageSeconds", "source"}`` to the response's ``extensions.stale``. Sync
fields (plain attribute reads, the hot path) are left alone.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import AsyncExtensionResolver, FieldExtension
from strawberry.types import Info
from strawberry.types.base import get_object_definition

from harmonia.cache.stale import collecting
from harmonia.schema.access import context


class StaleFields(FieldExtension):
    async def resolve_async(self, next_: AsyncExtensionResolver, source: Any, info: Info[Any, Any],
                            **kwargs: Any) -> Any:
        with collecting() as notes:
            result = await next_(source, info, **kwargs)
        if notes:
            context(info).note_stale(info.path.as_list(), notes)
        return result


def track_staleness(*types: type) -> None:
    for cls in types:
        definition = get_object_definition(cls, strict=True)
        for field in definition.fields:
            if field.is_async and not any(isinstance(e, StaleFields) for e in field.extensions):
                field.extensions.append(StaleFields())
