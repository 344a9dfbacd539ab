"""What a field's selection asks for, fragments included: resolvers fetch only what is needed.

    selected_fields(info)   -> frozenset({"emailsSent", "openRate"})
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info


def selected_fields(info: Info[Any, Any]) -> frozenset[str]:
    """The names of the fields selected directly under the current field (across all its nodes)."""
    raw = info._raw_info
    names: set[str] = set()
    for node in raw.field_nodes:
        if node.selection_set is not None:
            _collect(node.selection_set, raw.fragments, names, set())
    return frozenset(names)


def _collect(selection_set: SelectionSetNode, fragments: dict[str, Any], names: set[str], seen: set[str]) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, names, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                _collect(fragment.selection_set, fragments, names, seen)
