"""Per-resolver spans, only when asked for (``observability.resolver_spans``) and tracing is on.

    execute(schema, document, middleware=resolver_middleware(settings.observability.resolver_spans))

A span per resolved field (``resolve Customer.orders``) costs far more than the field itself on a
page of fifty customers, so it is a debugging aid, off by default: the operation, loader, cache
and upstream spans already show where the time goes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Any

from graphql import GraphQLResolveInfo

from harmonia.observability import tracing


class ResolverSpans:
    """graphql-core middleware: each resolver call inside its own span."""

    def resolve(self, next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        tracer = tracing.tracer()
        if tracer is None:
            return next_(root, info, **args)
        name = f"{info.parent_type.name}.{info.field_name}"
        attributes = {"graphql.field.path": ".".join(str(p) for p in info.path.as_list()),
                      "graphql.field.name": name}
        span = tracer.start_span(f"resolve {name}", attributes=attributes)
        with tracing.use(span, end=False):
            result = next_(root, info, **args)
        if not isawaitable(result):
            span.end()
            return result
        return _finish(result, span)


async def _finish(result: Awaitable[Any], span: Any) -> Any:
    try:
        with tracing.use(span, end=False):
            return await result
    finally:
        span.end()


def resolver_middleware(enabled: bool) -> list[Any] | None:
    return [ResolverSpans()] if enabled and tracing.enabled() else None
