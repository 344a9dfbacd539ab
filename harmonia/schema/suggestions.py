"""Validation whose "Did you mean ...?" names only what the principal may read.

    rules = suggesting_from(view.readable, specified_rules)   # harmonia.schema.role_schema builds them
    validate(view.valid, document, rules, hide_suggestions=False)

A principal's operations are validated against the schema it may *ask* for (denied fields included,
so that they answer FORBIDDEN with the roles that would do); graphql-core's two rules that suggest
names would draw their suggestions from that schema, and so name fields and types the principal may
not read. These two draw them from the schema it may *read* instead; the errors are otherwise
graphql-core's own, word for word. With ``hide_suggestions`` they suggest nothing, as graphql-core's.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FieldsOnCorrectTypeRule,
    GraphQLError,
    GraphQLSchema,
    KnownTypeNamesRule,
    NamedTypeNode,
    is_type_definition_node,
)
from graphql.pyutils import did_you_mean, suggestion_list
from graphql.validation.rules.fields_on_correct_type import get_suggested_field_names, get_suggested_type_names


class _ReadableFields(FieldsOnCorrectTypeRule):
    """Fields on correct type, suggesting only readable types and fields."""

    readable: GraphQLSchema | None = None

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        parent = self.context.get_parent_type()
        if not parent or self.context.get_field_def():
            return
        name = node.name.value
        suggestion = ""
        shown = self.readable.get_type(parent.name) if self.readable is not None else None
        if not self.context.hide_suggestions and self.readable is not None and shown is not None:
            suggestion = did_you_mean(get_suggested_type_names(self.readable, shown, name),  # type: ignore[arg-type]
                                      "to use an inline fragment on") \
                or did_you_mean(get_suggested_field_names(shown, name))  # type: ignore[arg-type]
        self.report_error(GraphQLError(f"Cannot query field '{name}' on type '{parent}'." + suggestion, node))


class _ReadableTypeNames(KnownTypeNamesRule):
    """Known type names, suggesting only readable types."""

    readable: GraphQLSchema | None = None

    def enter_named_type(self, node: NamedTypeNode, *_args: Any) -> None:
        name = node.name.value
        if name in self.existing_types_map or name in _defined_in(self.context.document):
            return
        suggested: list[str] = []
        if not self.context.hide_suggestions and self.readable is not None:
            suggested = suggestion_list(name, list(self.readable.type_map))
        self.report_error(GraphQLError(f"Unknown type '{name}'." + did_you_mean(suggested), node))


def _defined_in(document: DocumentNode) -> set[str]:
    """Types the document defines itself (refused by another rule: an operation defines no types)."""
    return {d.name.value for d in document.definitions if is_type_definition_node(d)}


REPLACED = {FieldsOnCorrectTypeRule: _ReadableFields, KnownTypeNamesRule: _ReadableTypeNames}


def suggesting_from(readable: GraphQLSchema | None,
                    rules: Collection[type[ASTValidationRule]]) -> tuple[type[ASTValidationRule], ...]:
    """``rules`` with graphql-core's suggesting rules replaced by ones suggesting from ``readable``."""
    out: list[type[ASTValidationRule]] = []
    for rule in rules:
        own = REPLACED.get(rule)
        out.append(type(own.__name__, (own,), {"readable": readable}) if own is not None else rule)
    return tuple(out)
