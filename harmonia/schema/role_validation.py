"""Validation as one kind of principal may be told it: checked against what it may ask for, explained
with what it may read.

    messages = validation_messages(view, document, rules, hide_suggestions=True)   # [] when it may run
    variable_message(coercion_error, view)                                          # one variable's error

A document valid for what the principal may *ask* for runs (a denied field answers null + FORBIDDEN
with the roles that would do): one validation pass for every document that runs. An invalid one is
answered with the messages of validating it against what the principal may *read*, so that no
message and no "Did you mean" names a field, argument or type it may not read: against the larger
schema a denied field's arguments would be named ("required field 'startDate'"). A variable whose
type only a denied field takes is likewise told only that its value is invalid.
"""

from __future__ import annotations

from collections.abc import Collection

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    VariableDefinitionNode,
    get_named_type,
    type_from_ast,
    validate,
)

from harmonia.schema.role_schema import RoleView


def validation_messages(view: RoleView, document: DocumentNode, rules: Collection[type[ASTValidationRule]], *,
                        hide_suggestions: bool) -> list[str]:
    if view.valid is view.readable:
        return [e.message for e in validate(view.valid, document, rules, hide_suggestions=hide_suggestions)]
    if not validate(view.valid, document, rules, hide_suggestions=True):
        return []
    if view.readable is None:  # it reads nothing: no name is its own to suggest
        return [e.message for e in validate(view.valid, document, rules, hide_suggestions=True)]
    return [e.message for e in validate(view.readable, document, rules, hide_suggestions=hide_suggestions)]


def variable_message(exc: GraphQLError, view: RoleView) -> str:
    """A variable's coercion error as the principal may read it: about a type outside what it may read
    (an input only a denied field takes), graphql-core would name that type's fields: say less."""
    node = exc.nodes[0] if exc.nodes else None
    if view.readable is view.valid or not isinstance(node, VariableDefinitionNode):
        return exc.message
    declared = type_from_ast(view.valid, node.type)
    named = get_named_type(declared) if declared is not None else None
    if named is not None and (view.readable is None or view.readable.get_type(named.name) is None):
        return f"Variable '${node.variable.name.value}' got an invalid value."
    return exc.message
