"""Lean field resolvers: the same resolver functions, without strawberry's per-call wrapping.

    schema = strawberry.Schema(query=Query, ...)
    make_lean(schema)          # once, after building: rewrites GraphQLField.resolve in place

strawberry wraps every field that has a resolver in a chain built for the general case: a new
``Info``, argument conversion, field-extension chaining (``functools.reduce`` over partials),
``await_maybe``. For a 50-order page that is several hundred calls of machinery per query for
fields like ``Order.name`` that read an attribute. ``make_lean`` gives each field the cheapest
resolver that still calls the same function the same way:

- a sync method without arguments: ``fn(source)``, or ``fn(source, info=Info(...))`` when it
  asks for ``info`` (masks and access checks read ``info.context``);
- an async field whose only extension is ``StaleFields``: arguments converted by strawberry's
  own ``convert_arguments``, then the resolver inside the stale-notes collector, exactly what
  ``StaleFields.resolve_async`` does;
- anything else (other extensions, permission classes, root/parent parameters) keeps
  strawberry's resolver.

A field may also name a batch companion (``metadata={BATCH: fn}``): ``await fn(sources, info)``
answers the field for many objects in one call, one result per source in order (the value, an
exception, or a ``harmonia.cache.stale.Noted`` value). The compiled executor calls it once for all
the objects of a list it completes, instead of one coroutine, task and loader future per object;
graphql-core (and anything else) keeps calling the field's own resolver, which must answer the same.

Each lean resolver carries ``__harmonia_lean__`` (what kind it is) so the compiled executor
(``harmonia.execution``) can call the function without building a ``Raw``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments
from strawberry.types.field import StrawberryField

from harmonia.cache.stale import begin, collecting, end
from harmonia.schema.staleness import StaleFields

BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
BATCH = "harmonia.batch"
Raw: TypeAlias = "GraphQLResolveInfo[Any]"


@dataclass(frozen=True, slots=True)
class Lean:
    """What a lean resolver does, for executors that call the function themselves.

    ``kind``: "attr" (read ``name`` off the source), "source" (``fn(source)``), "info"
    (``fn(source, info=...)``), "async" (arguments, then the coroutine, stale notes collected).
    """

    kind: str
    name: str = ""
    fn: Callable[..., Any] | None = None
    field: StrawberryField | None = None
    info_name: str = ""
    stale: bool = False
    # ``await batch(sources, raw_info)``: the field for many objects (see the module docstring).
    batch: Callable[..., Any] | None = None


def make_lean(schema: strawberry.Schema) -> int:
    """Replace strawberry's resolvers with lean ones where it is safe; answers how many."""
    converter = schema.schema_converter
    info_class = schema.config.info_class
    replaced = 0
    for gql_type in schema._schema.type_map.values():
        if not isinstance(gql_type, GraphQLObjectType) or gql_type.name.startswith("__"):
            continue
        for gql_field in gql_type.fields.values():
            definition = (gql_field.extensions or {}).get(BACKREF)
            if not isinstance(definition, StrawberryField):
                continue
            resolver = _lean(definition, converter, info_class)
            if resolver is not None:
                gql_field.resolve = resolver
                replaced += 1
    return replaced


def lean_of(resolve: Any) -> Lean | None:
    lean: Lean | None = getattr(resolve, "__harmonia_lean__", None)
    return lean


def _lean(field: StrawberryField, converter: GraphQLCoreConverter, info_class: type[Any]) -> Any:
    extensions = list(field.extensions)
    stale = any(isinstance(e, StaleFields) for e in extensions)
    if any(not isinstance(e, StaleFields) for e in extensions) or getattr(field, "permission_classes", None):
        return None
    base = field.base_resolver
    if base is None:
        if extensions:
            return None
        name = field.python_name

        def attr(source: Any, _info: Raw) -> Any:
            return getattr(source, name)

        return _mark(attr, Lean("attr", name=name))
    if base.parent_parameter is not None or base.root_parameter is not None or not base.self_parameter:
        return None
    fn = base.wrapped_func
    if not callable(fn) or isinstance(fn, staticmethod | classmethod):
        return None
    info_parameter = base.info_parameter
    if not field.is_async:
        if extensions or field.arguments:
            return None
        if info_parameter is None:
            def plain(source: Any, _info: Raw) -> Any:
                return fn(source)

            return _mark(plain, Lean("source", fn=fn, field=field))
        info_name = info_parameter.name

        def with_info(source: Any, info: Raw) -> Any:
            return fn(source, **{info_name: info_class(_raw_info=info, _field=field)})

        return _mark(with_info, Lean("info", fn=fn, field=field, info_name=info_name))
    if not stale:
        return None
    if not field.arguments:
        # Nothing to convert (Order.customer, Customer.totalSpent...): strawberry's get_arguments would
        # hand the function exactly (source, info=Info(...)).
        info_kw = info_parameter.name if info_parameter is not None else None

        async def resolve_plain_async(source: Any, info: Raw) -> Any:
            notes, token = begin()  # collecting(), without a generator per call
            try:
                if info_kw is None:
                    result = await fn(source)
                else:
                    result = await fn(source, **{info_kw: info_class(_raw_info=info, _field=field)})
            finally:
                end(token)
            if notes:
                info.context.note_stale(info.path.as_list(), notes)
            return result

        lean = Lean("async", fn=fn, field=field, stale=True, batch=_batch(field, info_class))
        return _mark(resolve_plain_async, lean)
    config = converter.config
    registry = converter.scalar_registry

    async def resolve_async(source: Any, info: Raw, **kwargs: Any) -> Any:
        strawberry_info = info_class(_raw_info=info, _field=field)
        args, kw = get_arguments(field=field, source=source, info=strawberry_info, kwargs=kwargs, config=config,
                                 scalar_registry=registry)
        with collecting() as notes:
            result = await fn(*args, **kw)
        if notes:
            info.context.note_stale(info.path.as_list(), notes)
        return result

    return _mark(resolve_async, Lean("async", fn=fn, field=field, stale=True))


def _batch(field: StrawberryField, info_class: type[Any]) -> Callable[..., Any] | None:
    metadata: Mapping[Any, Any] = field.metadata or {}
    fn = metadata.get(BATCH)
    if fn is None:
        return None

    def batch(sources: list[Any], info: Raw) -> Any:
        return fn(sources, info_class(_raw_info=info, _field=field))

    return batch


def _mark(resolver: Callable[..., Any], lean: Lean) -> Callable[..., Any]:
    resolver.__harmonia_lean__ = lean  # type: ignore[attr-defined]
    return resolver
