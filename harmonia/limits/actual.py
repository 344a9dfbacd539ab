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
    memo = plan.pricing_memo.get(id(model))
    if memo is None or memo[0] is not model:
        memo = plan.pricing_memo[id(model)] = (model, {})
    return base + _fields(_costly(plan.fields, model, memo[1]), item=data)


# A field that can cost anything: the field, its weight, and how to price its value.
#   FLAT: its selection costs nothing more (free leaves only): each object costs its weight;
#   NESTED: one object type: each object costs its weight plus its own costly fields (given);
#   ABSTRACT: the object's type decides which selection applies (its __typename, or its keys).
LEAF, FLAT, NESTED, ABSTRACT = range(4)
Costly = list[tuple[PlannedField, int, int, Any]]


def _costly(fields: list[PlannedField], model: CostModel, memo: dict[int, Costly]) -> Costly:
    """The fields that can cost anything, with their weights: a free leaf (most of an answer) is skipped
    without a lookup for each of the objects that hold it. Worked out once per plan and cost model."""
    found = memo.get(id(fields))
    if found is None:
        found = memo[id(fields)] = []
        for f in fields:
            weight = model.weight(f)
            if f.leaf:
                if weight:
                    found.append((f, weight, LEAF, None))
            elif len(f.children) == 1:
                children = _costly(next(iter(f.children.values())), model, memo)
                found.append((f, weight, NESTED, children) if children else (f, weight, FLAT, None))
            else:
                found.append((f, weight, ABSTRACT, {name: _costly(c, model, memo) for name, c in f.children.items()}))
    return found


def _fields(costly: Costly, item: dict[str, Any]) -> int:
    total = 0
    for planned, own, how, below in costly:
        value = item.get(planned.key)
        if value is None:
            continue
        if how == LEAF:
            total += own
            continue
        objects = [v for v in value if isinstance(v, dict)] if isinstance(value, list) else \
            [value] if isinstance(value, dict) else ()
        if how == FLAT:
            total += own * len(objects)
        elif how == NESTED:
            for obj in objects:
                total += own + _fields(below, obj)
        else:
            for obj in objects:
                total += own + _fields(_selection_for(planned, below, obj), obj)
    return total


def _selection_for(planned: PlannedField, costly: dict[str, Costly], item: dict[str, Any]) -> Costly:
    typename = item.get("__typename")
    if isinstance(typename, str) and typename in costly:
        return costly[typename]
    # An abstract field without __typename: the possible type whose selection the answer matches.
    keys = item.keys()
    for name, children in planned.children.items():
        if keys <= {c.key for c in children}:
            return costly[name]
    return []
