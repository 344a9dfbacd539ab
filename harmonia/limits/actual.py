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


Costly = list[tuple[PlannedField, int, bool]]


def _costly(fields: list[PlannedField], model: CostModel, memo: dict[int, Costly]) -> Costly:
    """The fields that can cost anything, with their weights: a free leaf (most of an answer) is skipped
    without a lookup for each of the objects that hold it. The flag says an object field's own
    selection can cost nothing more (free leaves only), so its objects are counted, not walked."""
    found = memo.get(id(fields))
    if found is None:
        found = memo[id(fields)] = [
            (f, w, not f.leaf and len(f.children) == 1
             and not _costly(next(iter(f.children.values())), model, memo))
            for f in fields if (w := model.weight(f)) or not f.leaf]
    return found


def _fields(fields: list[PlannedField], model: CostModel, data: dict[str, Any], memo: dict[int, Costly]) -> int:
    total = 0
    for planned, own, flat in _costly(fields, model, memo):
        value = data.get(planned.key)
        if value is None:
            continue
        if planned.leaf:
            total += own
        elif flat:  # objects of free leaves: each costs its own weight
            if isinstance(value, list):
                total += own * sum(1 for item in value if isinstance(item, dict))
            elif isinstance(value, dict):
                total += own
        else:
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
