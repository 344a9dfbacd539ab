"""The admin plane's logic, free of GraphQL: list field policies, change them, read the audit, dry-run.

    plane = AdminPlane(store, catalog, replay)
    views = plane.field_policies()                         # every Type.field with its rule and per-role access
    await plane.set_field("Campaign", "stats", read=Rule.roles("support"), mask=None, clear=None, actor="ada")
    impacts = plane.dry_run({("Customer", "email"): FieldRule(read=Rule.roles("marketer"))}, last=100)

Inputs are checked against the schema's catalog as strictly as the policy file is (unknown
fields, masks that cannot apply, the admin plane itself) and refused with BAD_USER_INPUT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from harmonia.auth.overlays import AuditEntry
from harmonia.auth.policy import ADMIN_PLANE_FIELDS, ADMIN_PLANE_TYPES, Policy
from harmonia.auth.policy_file import mask_problem
from harmonia.auth.rules import FieldRule, FieldShape, Rule
from harmonia.auth.store import PolicyStore
from harmonia.errors import BadUserInput

Catalog = Mapping[str, Mapping[str, FieldShape]]


@dataclass(frozen=True, slots=True)
class RoleAccess:
    role: str
    access: str          # READ, MASKED or DENIED (the role alone, without scopes)


@dataclass(frozen=True, slots=True)
class FieldPolicyView:
    type_name: str
    field_name: str
    read: Rule
    source: str          # OVERLAY, FIELD, TYPE, DEFAULT: where the read rule comes from
    mask: str | None
    clear: Rule | None
    readers: tuple[RoleAccess, ...]
    hidden: bool = False                 # the file marks it (or its type) hidden
    searches: tuple[str, ...] = ()       # its lookups, "email -> Customer.email"


@dataclass(frozen=True, slots=True)
class Impact:
    """A field that the proposed policy would treat differently, for whom, in how many recorded operations."""

    type_name: str
    field_name: str
    change: str          # DENIED, ALLOWED, MASKED, UNMASKED
    roles: tuple[str, ...]
    subjects: tuple[str, ...]
    operations: int


@dataclass(frozen=True, slots=True)
class DryRun:
    replayed: int
    impacts: tuple[Impact, ...]


Replay = Callable[[Policy, Policy, int], DryRun]


class AdminPlane:
    def __init__(self, store: PolicyStore, catalog: Catalog, replay: Replay) -> None:
        self.store = store
        self.catalog = {t: f for t, f in catalog.items() if t not in ADMIN_PLANE_TYPES}
        self.replay = replay

    def field_policies(self, type_name: str | None = None) -> list[FieldPolicyView]:
        policy = self.store.current
        roles = policy.known_roles()
        views = []
        for t in sorted(self.catalog):
            if type_name is not None and t != type_name:
                continue
            for f in self.catalog[t]:
                if (t, f) in ADMIN_PLANE_FIELDS:
                    continue
                own = policy.field_rule(t, f)
                views.append(FieldPolicyView(
                    t, f, policy.read_rule(t, f), _source(policy, t, f), own.mask if own else None,
                    own.clear if own else None,
                    tuple(RoleAccess(r, _access(policy, r, t, f)) for r in roles),
                    hidden=policy.marked_hidden(t, f),
                    searches=tuple(f"{k.argument} -> {k.searched}" for k in policy.lookups_of(t, f))))
        return views

    def view(self, type_name: str, field_name: str) -> FieldPolicyView:
        return next(v for v in self.field_policies(type_name) if v.field_name == field_name)

    def check(self, type_name: str, field_name: str, rule: FieldRule | None) -> None:
        if type_name in ADMIN_PLANE_TYPES or (type_name, field_name) in ADMIN_PLANE_FIELDS:
            raise BadUserInput(f"{type_name}.{field_name} is the admin plane: only admins use it")
        shape = self.catalog.get(type_name, {}).get(field_name)
        if shape is None:
            raise BadUserInput(f"Unknown field {type_name}.{field_name}")
        if rule is None:
            return
        for what in (rule.read, rule.clear):
            if what is not None and any(not r.roles and not r.scopes for r in what.anyof) and len(what.anyof) > 1:
                raise BadUserInput("An alternative names no role and no scope; use read: [{}] alone for anyone")
        if rule.mask is not None:
            problem = mask_problem(rule.mask, shape)
            if problem:
                raise BadUserInput(f"{type_name}.{field_name}: {problem}")
        elif rule.clear is not None:
            raise BadUserInput(f"{type_name}.{field_name}: 'clear' needs a mask")

    async def set_field(self, type_name: str, field_name: str, rule: FieldRule, *, actor: str) -> AuditEntry:
        self.check(type_name, field_name, rule)
        return await self.store.write(type_name, field_name, rule, actor=actor)

    async def remove_field(self, type_name: str, field_name: str, *, actor: str) -> AuditEntry:
        self.check(type_name, field_name, None)
        if (type_name, field_name) not in self.store.current.overlays:
            raise BadUserInput(f"{type_name}.{field_name} has no runtime policy to remove (the file's rule applies)")
        return await self.store.write(type_name, field_name, None, actor=actor)

    async def audit(self, last: int) -> list[AuditEntry]:
        return await self.store.audit(min(max(last, 0), 1000))

    def proposed(self, changes: Mapping[tuple[str, str], FieldRule]) -> Policy:
        """The current policy with these field rules applied (checked first, BAD_USER_INPUT if wrong)."""
        for (t, f), rule in changes.items():
            self.check(t, f, rule)
        current = self.store.current
        return current.with_overlays({**current.overlays, **changes}, version=-1)

    def dry_run(self, changes: Mapping[tuple[str, str], FieldRule], last: int) -> DryRun:
        proposed = self.proposed(changes)
        return self.replay(self.store.current, proposed, min(max(last, 0), 1000))


def _source(policy: Policy, type_name: str, field_name: str) -> str:
    if (type_name, field_name) in policy.overlays and policy.overlays[(type_name, field_name)].read is not None:
        return "OVERLAY"
    own = policy.field_rule(type_name, field_name)
    if own is not None and own.read is not None:
        return "FIELD"
    return "DEFAULT" if policy.type_read(type_name) is policy.default else "TYPE"


def _access(policy: Policy, role: str, type_name: str, field_name: str) -> str:
    decision = policy.access_for(frozenset({role})).decide(type_name, field_name)
    if not decision.allowed:
        return "DENIED"
    return "MASKED" if decision.mask else "READ"
