"""What a proposed schema changes (graphql-core's change finders), with the field coordinates each one touches.

    for change in schema_changes(current, proposed):
        change.severity, change.kind, change.description, change.coordinates
        # "BREAKING", "FIELD_REMOVED", "Field Customer.phone was removed.", {"Customer.phone"}

Usage is counted per ``Type.field`` of output types, so a change elsewhere is mapped to the output
fields an operation must select to be hurt by it: a removed type to every field of it (and the
fields leading to it are selected with them), an input type or an argument to the fields that take
it, an enum value to the fields that return or take the enum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    find_breaking_changes,
    find_dangerous_changes,
    get_named_type,
)

BREAKING = "BREAKING"
DANGEROUS = "DANGEROUS"
_COORDINATE = re.compile(r"\b([_A-Za-z][_0-9A-Za-z]*)\.([_A-Za-z][_0-9A-Za-z]*)\b")
_NAME = re.compile(r"\b[_A-Za-z][_0-9A-Za-z]*\b")


@dataclass(frozen=True, slots=True)
class Change:
    severity: str                 # BREAKING or DANGEROUS
    kind: str                     # FIELD_REMOVED, ..., or POLICY_DENIED, POLICY_MASKED, POLICY_ALLOWED, ...
    description: str
    coordinates: frozenset[str]   # the Type.field coordinates whose users it affects
    grants: frozenset[str] | None = None  # policy changes: only uses under these role sets are affected


def schema_changes(current: GraphQLSchema, proposed: GraphQLSchema) -> list[Change]:
    found = [Change(BREAKING, c.type.name, c.description, affected(current, c.description))
             for c in find_breaking_changes(current, proposed)]
    found += [Change(DANGEROUS, c.type.name, c.description, affected(current, c.description))
              for c in find_dangerous_changes(current, proposed)]
    return found


def affected(schema: GraphQLSchema, description: str) -> frozenset[str]:
    """The output-field coordinates of ``schema`` that a change so described touches."""
    found: set[str] = set()
    for type_name, member in _COORDINATE.findall(description):
        named = schema.type_map.get(type_name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType) and member in named.fields:
            found.add(f"{type_name}.{member}")
        elif named is not None:
            found |= _leading_to(schema, named)
    if found:
        return frozenset(found)
    for word in _NAME.findall(description):  # a type-level change: "Customer was removed."
        named = schema.type_map.get(word)
        if named is None or word.startswith("__") or word in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            found |= {f"{word}.{f}" for f in named.fields}
        found |= _leading_to(schema, named)
    return frozenset(found)


def _leading_to(schema: GraphQLSchema, target: GraphQLNamedType) -> set[str]:
    """Output fields returning ``target`` or taking it as an argument (input types nested once)."""
    inputs = {target.name}
    if isinstance(target, GraphQLEnumType | GraphQLInputObjectType):
        for named in schema.type_map.values():
            if isinstance(named, GraphQLInputObjectType) and any(
                    get_named_type(f.type).name == target.name for f in named.fields.values()):
                inputs.add(named.name)
    found: set[str] = set()
    for type_name, named in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for field_name, definition in named.fields.items():
            returns = get_named_type(definition.type)
            takes = {get_named_type(a.type).name for a in definition.args.values()}
            if returns.name == target.name or takes & inputs or (
                    isinstance(returns, GraphQLUnionType) and target in returns.types):
                found.add(f"{type_name}.{field_name}")
    return found
