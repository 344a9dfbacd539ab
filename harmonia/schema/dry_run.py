"""Replay recent operations under a proposed policy: which fields would change, for whom.

    recent = RecentOperations(500)
    recent.record(query, operation_name, principal)           # the pipeline, after each planned operation
    report = replay_under(schema, recent)(current_policy, proposed_policy, last=100)

Only the operation text, its name and the caller's subject, roles and scopes are kept (never
variables or results), in this process's memory: a dry run replays what this instance has served.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from graphql import GraphQLSchema, parse

from harmonia.auth.admin import DryRun, Impact
from harmonia.auth.policy import Policy
from harmonia.auth.principal import Principal
from harmonia.limits.plan import select_operation
from harmonia.schema.access_plan import AccessPlan
from harmonia.schema.authorize import authorize


@dataclass(frozen=True, slots=True)
class RecordedOperation:
    query: str
    operation_name: str | None
    sub: str
    roles: frozenset[str]
    scopes: frozenset[str]


class RecentOperations:
    def __init__(self, size: int = 500) -> None:
        self._ops: deque[RecordedOperation] = deque(maxlen=size)

    def record(self, query: str, operation_name: str | None, principal: Principal) -> None:
        self._ops.append(RecordedOperation(query, operation_name, principal.sub, principal.roles, principal.scopes))

    def last(self, n: int) -> list[RecordedOperation]:
        return list(self._ops)[-n:] if n > 0 else []


def _outcome(plan: AccessPlan) -> dict[str, str]:
    """Per ``Type.field``: DENIED or MASKED (fields not named were read in clear)."""
    seen = {site.label: "MASKED" for site in plan.masked}
    seen.update({site.label: "DENIED" for site in plan.denied})
    return seen


def replay_under(schema: GraphQLSchema, recent: RecentOperations) -> Callable[[Policy, Policy, int], DryRun]:
    def replay(current: Policy, proposed: Policy, last: int) -> DryRun:
        ops = recent.last(last)
        found: dict[tuple[str, str], tuple[set[str], set[str], int]] = {}
        for op in ops:
            document = parse(op.query)
            operation = select_operation(document, op.operation_name)
            if operation is None:
                continue
            before = _outcome(authorize(schema, document, operation, current.access_for(op.roles, op.scopes)))
            after = _outcome(authorize(schema, document, operation, proposed.access_for(op.roles, op.scopes)))
            for label in before.keys() | after.keys():
                was, now = before.get(label, "READ"), after.get(label, "READ")
                if was == now:
                    continue
                change = {"DENIED": "DENIED", "MASKED": "MASKED"}.get(now, "UNMASKED" if was == "MASKED"
                                                                       else "ALLOWED")
                if was == "DENIED" and now == "MASKED":
                    change = "ALLOWED"
                roles, subjects, count = found.get((label, change), (set(), set(), 0))
                roles.add(" + ".join(sorted(op.roles)) or "(no role)")
                subjects.add(op.sub)
                found[(label, change)] = (roles, subjects, count + 1)
        impacts = []
        for (label, change), (roles, subjects, count) in sorted(found.items()):
            type_name, _, field_name = label.rpartition(".")
            impacts.append(Impact(type_name, field_name, change, tuple(sorted(roles)), tuple(sorted(subjects)),
                                  count))
        return DryRun(len(ops), tuple(impacts))
    return replay
