"""The compiled form of one operation: per object type, the fields to run and how to resolve each.

    plan = compile_root(executor, schema, operation)         # once per document (and @skip/@include values)
    plan.fields[0].key, plan.fields[0].mode

Fields are grouped by graphql-core's own ``collect_fields`` / ``collect_subfields`` (merging,
aliases, fragments, inline fragments, @skip/@include), so the grouping is exactly what
graphql-core executes; sub-plans are built the first time a field's value is completed for a
given object type, and kept. What a field does at run time is decided here once:

- ``TYPENAME``: ``__typename`` of a concrete object, a constant;
- ``ATTR`` / ``SOURCE``: a lean resolver (``harmonia.schema.lean``) that reads an attribute or calls
  ``fn(source)``, without a ``GraphQLResolveInfo``;
- ``RESOLVE``: the field's resolver (or graphql-core's default) with a full ``GraphQLResolveInfo``;
- ``BATCH``: a nullable field without arguments whose lean resolver names a batch companion: the
  executor answers it for all the objects of a stretch of completion in one call (see ``_Run.fill``);
- ``DELEGATE``: graphql-core runs the field and everything below it (introspection, abstract types).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, collect_fields, collect_subfields
from graphql.execution.executor import Executor

from harmonia.schema.lean import BACKREF, lean_of

TYPENAME, ATTR, SOURCE, RESOLVE, DELEGATE, BATCH = range(6)


class Unsupported(Exception):
    """The operation uses something the compiled executor leaves to graphql-core."""


@dataclass(slots=True, eq=False)
class FieldPlan:
    key: str
    name: str
    parent_type: GraphQLObjectType
    field_def: GraphQLField
    details: FieldDetailsList
    nodes: list[FieldNode]
    return_type: GraphQLOutputType
    mode: int
    resolve: Callable[..., Any] | None = None   # RESOLVE: the resolver; SOURCE: fn(source)
    batch: Callable[..., Any] | None = None     # BATCH: await batch(sources, info) -> one result each
    attr: str = ""                              # ATTR: the attribute read
    has_args: bool = False
    children: dict[str, ObjectPlan] = field(default_factory=dict)  # by object type name
    # ATTR/SOURCE of a leaf type: completed inline; ``plain_string``: a str is its own output value.
    leaf: bool = False
    non_null: bool = False
    plain_string: bool = False
    # An object (or list of objects) type's strawberry class: a value of exactly that class is an
    # object of that type (it passes is_type_of), so its fields are executed without the generic steps.
    object_class: Any = None
    item_class: Any = None
    object_type: GraphQLObjectType | None = None  # the object type itself (of the field, or of its items)


@dataclass(slots=True, eq=False)
class ObjectPlan:
    type: GraphQLObjectType
    fields: list[FieldPlan]
    # The type's is_type_of, and whether it is strawberry's own (which ignores its info argument).
    is_type_of: Callable[..., Any] | None = None
    plain_is_type_of: bool = False
    # strawberry's class for the type: an instance of exactly it passes strawberry's is_type_of (which
    # also accepts subclasses, interfaces' classes and strawberry.cast objects; none is used here).
    origin: Any = None


def compile_root(executor: Executor[Any], schema: GraphQLSchema, operation: OperationDefinitionNode) -> ObjectPlan:
    root_type = schema.get_root_type(operation.operation)
    if root_type is None:
        raise Unsupported("no root type")
    collected = collect_fields(schema, executor.fragments, executor.variable_values, root_type, operation)
    return _object_plan(schema, root_type, collected.grouped_field_set)


def compile_object(executor: Executor[Any], schema: GraphQLSchema, parent: FieldPlan,
                   object_type: GraphQLObjectType) -> ObjectPlan:
    """The plan of ``parent``'s value when it is an ``object_type``; built once, then kept."""
    collected = collect_subfields(schema, executor.fragments, executor.variable_values, executor.operation,
                                  object_type, parent.details)
    plan = _object_plan(schema, object_type, collected.grouped_field_set)
    parent.children[object_type.name] = plan
    return plan


def _object_plan(schema: GraphQLSchema, object_type: GraphQLObjectType,
                 grouped: dict[str, FieldDetailsList]) -> ObjectPlan:
    fields = []
    for key, details in grouped.items():
        if any(d.defer_usage is not None or d.fragment_variable_values is not None for d in details):
            raise Unsupported("@defer or fragment variables")
        node = details[0].node
        name = node.name.value
        field_def = schema.get_field(object_type, name)
        if field_def is None:
            raise Unsupported(f"no field {object_type.name}.{name}")
        fields.append(_field_plan(key, name, object_type, field_def, details))
    is_type_of = object_type.is_type_of
    return ObjectPlan(object_type, fields, is_type_of, _plain(is_type_of), _origin(object_type))


def _plain(is_type_of: Any) -> bool:
    """Whether ``is_type_of`` is strawberry's own: it reads no info, and accepts its class's instances."""
    return is_type_of is not None and "_get_is_type_of.<locals>" in getattr(is_type_of, "__qualname__", "")


def _origin(object_type: GraphQLObjectType) -> Any:
    """The strawberry class whose exact instances are objects of ``object_type`` (None: no such shortcut)."""
    if object_type.is_type_of is not None and not _plain(object_type.is_type_of):
        return None
    origin = getattr((object_type.extensions or {}).get(BACKREF), "origin", None)
    return origin if isinstance(origin, type) else None


def _field_plan(key: str, name: str, parent: GraphQLObjectType, field_def: GraphQLField,
                details: FieldDetailsList) -> FieldPlan:
    nodes = [d.node for d in details]
    has_args = bool(field_def.args or nodes[0].arguments)
    plan = FieldPlan(key, name, parent, field_def, details, nodes, field_def.type, RESOLVE,
                     resolve=field_def.resolve, has_args=has_args)
    if name == "__typename":
        plan.mode = TYPENAME
    elif name.startswith("__") or is_abstract_type(get_named_type(field_def.type)):
        plan.mode = DELEGATE
    elif (lean := lean_of(field_def.resolve)) is not None and not has_args:
        if lean.kind == "attr":
            plan.mode, plan.attr = ATTR, lean.name
        elif lean.kind == "source" and lean.fn is not None:
            plan.mode, plan.resolve = SOURCE, lean.fn
        elif lean.batch is not None and not isinstance(field_def.type, GraphQLNonNull):
            # Nullable only: a failure stays on the field itself, so filling it later cannot have to
            # null a parent that was already placed in the response.
            plan.mode, plan.batch = BATCH, lean.batch
    named = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
    if isinstance(named, GraphQLObjectType):
        plan.object_type = named
        plan.object_class = _origin(named) if plan.mode in (ATTR, SOURCE) else None
    elif isinstance(named, GraphQLList):
        item = named.of_type.of_type if isinstance(named.of_type, GraphQLNonNull) else named.of_type
        if isinstance(item, GraphQLObjectType):
            plan.object_type, plan.item_class = item, _origin(item)
    if plan.mode in (ATTR, SOURCE) and is_leaf_type(named):
        plan.leaf = True
        plan.non_null = isinstance(field_def.type, GraphQLNonNull)
        # String and ID answer a str with itself; so does a custom scalar serialized by str (DateTime).
        plan.plain_string = named in (GraphQLString, GraphQLID) or getattr(named, "serialize", None) is str
    return plan
