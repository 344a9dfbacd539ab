"""Actual cost: the same prices as the static cost, over the lists the answer really holds.

    actual = actual_cost(plan, model, result.data)

The static cost assumes every list is as long as its ``first`` allows; the answer says how long
each one was, so walking the result data against the plan prices what was really fetched. A
null object (not found, forbidden, failed) costs nothing. The difference is refunded.
"""

from __future__ import annotations

from typing import Any

from harmonia.limits.plan import Plan, PlannedField
from harmonia.limits.pricing import CostModel


def actual_cost(plan: Plan | None, model: CostModel, data: Any) -> int:
    if plan is None or not isinstance(data, dict):
        return 0
    base = model.mutation_cost if plan.operation_type == "mutation" else 0
    return base + _fields(plan.fields, model, data, {})


def _costly(fields: list[PlannedField], model: CostModel,
            memo: dict[int, list[tuple[PlannedField, int]]]) -> list[tuple[PlannedField, int]]:
    """The fields that can cost anything, with their weights: a free leaf (most of an answer) is skipped
    without a lookup for each of the objects that hold it."""
    found = memo.get(id(fields))
    if found is None:
        found = memo[id(fields)] = [(f, w) for f in fields if (w := model.weight(f)) or not f.leaf]
    return found


def _fields(fields: list[PlannedField], model: CostModel, data: dict[str, Any],
            memo: dict[int, list[tuple[PlannedField, int]]]) -> int:
    total = 0
    for planned, own in _costly(fields, model, memo):
        value = data.get(planned.key)
        if value is None:
            continue
        if planned.leaf:
            total += own
            continue
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, dict):
                total += own + _fields(_children_for(planned, item), model, item, memo)
    return total


def _children_for(planned: PlannedField, item: dict[str, Any]) -> list[PlannedField]:
    if len(planned.children) == 1:
        return next(iter(planned.children.values()))
    typename = item.get("__typename")
    if isinstance(typename, str) and typename in planned.children:
        return planned.children[typename]
    # An abstract field without __typename: the possible type whose selection the answer matches.
    keys = item.keys()
    for children in planned.children.values():
        if keys <= {c.key for c in children}:
            return children
    return []
