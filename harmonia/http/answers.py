"""Which operations the response cache may answer: queries whose every root field reads through the
entity cache, so that every eviction reaching their data reaches the answer too.

    cacheable(pricing.plan)     # True for { orders(first: 50) { ... } }, False for erasureStatus or a mutation
"""

from __future__ import annotations

from harmonia.limits.plan import Plan

# Root fields whose answers come from entity-cached records (or from the schema itself). Anything
# else, today ``erasureStatus`` (job state in Redis) and any root field added later, is never
# answered from the response cache until it is listed here.
ENTITY_ROOT_FIELDS = frozenset({
    "node", "customer", "customerByEmail", "customers", "order", "orders", "campaign", "campaigns", "analytics",
    "__typename", "__schema", "__type",
})


def cacheable(plan: Plan | None) -> bool:
    return (plan is not None and plan.operation_type == "query"
            and all(f.name in ENTITY_ROOT_FIELDS for f in plan.fields))
