"""Introspection priced exactly: count the objects a ``__schema``/``__type`` selection returns.

    points = introspection_cost(schema, planned_schema_field, cap=5000)

The schema is in memory, so instead of assumed list sizes (which would price GraphiQL's standard
introspection query, about 530 objects here, at millions) this walks the selection over the real
schema with graphql-core's own introspection resolvers: one point per object, as for any object.
It stops counting past ``cap`` so a hostile selection costs the walk no more than the limit.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, SchemaMetaFieldDef, TypeMetaFieldDef

from harmonia.limits.plan import PlannedField


class _Capped(Exception):
    pass


def introspection_cost(schema: GraphQLSchema, root: PlannedField, cap: int) -> int:
    counter = _Counter(schema, cap)
    definition = SchemaMetaFieldDef if root.name == "__schema" else TypeMetaFieldDef
    try:
        counter.field(root, None, definition.resolve)
    except _Capped:
        return cap + 1
    return counter.count


class _Counter:
    def __init__(self, schema: GraphQLSchema, cap: int) -> None:
        self.schema = schema
        self.cap = cap
        self.count = 0

    def field(self, planned: PlannedField, source: Any, resolve: Any) -> None:
        info = SimpleNamespace(schema=self.schema, field_name=planned.name)
        value = resolve(source, info, **planned.args)
        items = value if planned.is_list else [value]
        for item in items or ():
            if item is None:
                continue
            self.count += 1
            if self.count > self.cap:
                raise _Capped
            runtime = self._runtime_type(planned)
            for child in planned.children.get(runtime.name, ()):
                if not child.leaf:
                    self.field(child, item, runtime.fields[child.name].resolve)

    def _runtime_type(self, planned: PlannedField) -> GraphQLObjectType:
        # Every introspection type is an object type, so the plan has exactly one child list.
        named = self.schema.get_type(planned.type_name)
        assert isinstance(named, GraphQLObjectType)
        return named
