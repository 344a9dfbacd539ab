"""Static cost of a planned operation, per the IBM cost spec / Apollo demand control.

    model = CostModel.from_settings(settings.limits)
    price = price_plan(plan, model, schema)
    price.cost, price.visits            # points; every field with how many times it will resolve

An object costs 1, a scalar or enum 0, unless ``field_weights`` gives the field another weight
(a GA4 report costs more than a contact). A list multiplies what it holds by its slicing argument
(``first``, ``last``, ``limit``), or, for a connection, the connection's slicing argument sizes
its ``edges``/``nodes`` (and a report's ``rows``); other lists by their configured or default
assumed size. An abstract field costs its most expensive possible type. A mutation adds a base
of ``mutation_cost``. Introspection is priced exactly: the schema is in memory, so
``harmonia.limits.introspection`` counts the objects the selection will return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from graphql import GraphQLSchema

from harmonia.limits.introspection import introspection_cost
from harmonia.limits.plan import Plan, PlannedField
from harmonia.settings import LimitsSettings

SLICING_ARGUMENTS = ("first", "last", "limit")
SIZED_FIELDS = frozenset({"edges", "nodes", "rows"})


@dataclass(frozen=True, slots=True)
class CostModel:
    field_weights: Mapping[str, int]
    list_sizes: Mapping[str, int]
    default_list_size: int = 10
    mutation_cost: int = 10

    @classmethod
    def from_settings(cls, limits: LimitsSettings) -> CostModel:
        return cls(dict(limits.field_weights), dict(limits.list_sizes), limits.default_list_size,
                   limits.mutation_cost)

    def weight(self, planned: PlannedField) -> int:
        weight = self.field_weights.get(planned.coordinate)
        if weight is not None:
            return weight
        return 0 if planned.leaf else 1

    def sizes(self, planned: PlannedField, parent_slice: int | None) -> tuple[int, int | None]:
        """(items per instance, the slice this field hands to its sized children)."""
        slicing = _slicing(planned)
        if not planned.is_list:
            return 1, slicing
        if slicing is not None:
            return slicing, None
        if parent_slice is not None and planned.name in SIZED_FIELDS:
            return parent_slice, None
        return self.list_sizes.get(planned.coordinate, self.default_list_size), None


@dataclass(frozen=True, slots=True)
class Visit:
    """A field of the plan and how often it resolves: ``parents`` objects hold ``instances`` of it."""

    field: PlannedField
    parents: int
    instances: int
    points: int  # everything this field costs across all its parents, its subtree included
    parent_path: str


@dataclass(slots=True)
class Price:
    cost: int
    visits: list[Visit] = field(default_factory=list)


def price_plan(plan: Plan, model: CostModel, schema: GraphQLSchema, introspection_cap: int = 100_000,
               introspection_schema: GraphQLSchema | None = None) -> Price:
    """``introspection_schema``: the schema the caller's introspection answers from (its own, when it may
    not see the whole one): priced on the full one, the cost would count what it may not see."""
    walker = _Walker(model, schema, introspection_cap, introspection_schema or schema)
    cost = walker.fields(plan.fields, 1, None, "")
    if plan.operation_type == "mutation":
        cost += model.mutation_cost
    return Price(cost, walker.visits)


def _slicing(planned: PlannedField) -> int | None:
    for name in SLICING_ARGUMENTS:
        value = planned.args.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(0, value)
    return None


class _Walker:
    def __init__(self, model: CostModel, schema: GraphQLSchema, introspection_cap: int,
                 introspection_schema: GraphQLSchema) -> None:
        self.model = model
        self.schema = schema
        self.introspection_cap = introspection_cap
        self.introspection_schema = introspection_schema
        self.visits: list[Visit] = []

    def fields(self, fields: list[PlannedField], parents: int, parent_slice: int | None, parent_path: str) -> int:
        """What ``fields`` cost on one parent object (``parents`` such objects exist)."""
        total = 0
        for planned in fields:
            total += self.field(planned, parents, parent_slice, parent_path)
        return total

    def field(self, planned: PlannedField, parents: int, parent_slice: int | None, parent_path: str) -> int:
        own = self.model.weight(planned)
        if planned.leaf:
            self.visits.append(Visit(planned, parents, parents, own * parents, parent_path))
            return own
        if planned.name in ("__schema", "__type") and not parent_path:
            each = introspection_cost(self.introspection_schema, planned, self.introspection_cap)
            self.visits.append(Visit(planned, parents, parents, each * parents, parent_path))
            return each
        size, child_slice = self.model.sizes(planned, parent_slice)
        instances = parents * size
        at = len(self.visits)
        inner = max((self.fields(children, instances, child_slice, planned.path)
                     for children in planned.children.values()), default=0)
        each = size * (own + inner)
        self.visits.insert(at, Visit(planned, parents, instances, each * parents, parent_path))
        return each
