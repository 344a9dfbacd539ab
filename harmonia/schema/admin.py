"""The admin plane in GraphQL: who may read what, changed at runtime, audited, dry-run first.

    mutation { setFieldPolicy(input: {typeName: "Campaign", fieldName: "stats",
                                       read: [{roles: ["marketer"]}, {roles: ["support"]}]}) { readSummary } }
    { fieldPolicies(typeName: "Customer") { fieldName readSummary mask readers { role access } } }
    { policyAudit(last: 20) { version at actor action typeName fieldName before { summary } after { summary } } }
    { dryRunPolicy(changes: [{typeName: "Customer", fieldName: "email", read: [{roles: ["marketer"]}]}])
        { operationsReplayed impacts { typeName fieldName change roles subjects operations } } }

Only the policy's ``admins`` reach these fields: for anyone else they do not exist (a validation
error: ``harmonia.schema.role_schema``), and each resolver checks again.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from harmonia.auth.admin import AdminPlane, FieldPolicyView
from harmonia.auth.overlays import AuditEntry
from harmonia.auth.rules import FieldRule, Requirement, Rule
from harmonia.checks.policy_changes import policy_changes
from harmonia.errors import Forbidden
from harmonia.schema.access import context
from harmonia.schema.checks import SchemaCheckReport, checked, usage_window
from harmonia.schema.types import DateTime


@strawberry.enum(description="What one role (alone, without scopes) gets from a field.")
class AccessLevel(Enum):
    READ = strawberry.enum_value("READ", description="Reads the value in clear.")
    MASKED = strawberry.enum_value("MASKED", description="Reads the value masked.")
    DENIED = strawberry.enum_value("DENIED", description="Gets null with FORBIDDEN.")


@strawberry.enum(description="Where a field's read rule comes from.")
class RuleSource(Enum):
    OVERLAY = strawberry.enum_value("OVERLAY", description="A runtime change made by an admin.")
    FIELD = strawberry.enum_value("FIELD", description="The field's own rule in the policy file.")
    TYPE = strawberry.enum_value("TYPE", description="The type's rule in the policy file.")
    DEFAULT = strawberry.enum_value("DEFAULT", description="The policy's global default.")


@strawberry.type(description="One alternative of a rule: all of these roles and all of these scopes.")
class PolicyRequirement:
    roles: list[str] = strawberry.field(description="Roles needed together.")
    scopes: list[str] = strawberry.field(description="Scopes needed together.")


@strawberry.input(description="One alternative of a rule: all of these roles and scopes (both empty: anyone).")
class RequirementInput:
    roles: list[str] = strawberry.field(default_factory=list, description="Roles needed together.")
    scopes: list[str] = strawberry.field(default_factory=list, description="Scopes needed together.")


@strawberry.input(description="A field's runtime rule; it replaces the field's own rule from the policy file.")
class FieldPolicyInput:
    type_name: str = strawberry.field(description="The object type, e.g. Customer.")
    field_name: str = strawberry.field(description="The field, e.g. email.")
    read: list[RequirementInput] | None = strawberry.field(
        default=None, description="Who may read it: any one of these alternatives. Null: the type's rule.")
    mask: str | None = strawberry.field(default=None, description="email, phone or redact; null for none.")
    clear: list[RequirementInput] | None = strawberry.field(
        default=None, description="Who reads a masked field in clear (any one of these).")


@strawberry.type(description="Who sees a field how.")
class RoleAccessView:
    role: str = strawberry.field(description="A role named in the policy.")
    access: AccessLevel = strawberry.field(description="What the role alone gets.")


@strawberry.type(description="A field's own rule as stored (an audit entry's before or after).")
class FieldRuleView:
    read: list[PolicyRequirement] | None = strawberry.field(description="Who may read; null: the type's rule.")
    mask: str | None = strawberry.field(description="The mask, if any.")
    clear: list[PolicyRequirement] | None = strawberry.field(description="Who reads it in clear.")
    summary: str = strawberry.field(description="The rule in one line.")


@strawberry.type(description="The effective rule of one Type.field and what each known role gets.")
class FieldPolicy:
    type_name: str = strawberry.field(description="The object type.")
    field_name: str = strawberry.field(description="The field.")
    read: list[PolicyRequirement] = strawberry.field(description="Who may read it (any one alternative).")
    read_summary: str = strawberry.field(description="The read rule in one line, e.g. 'analyst | marketer'.")
    source: RuleSource = strawberry.field(description="Where the read rule comes from.")
    mask: str | None = strawberry.field(description="The mask for readers not in `clear`.")
    clear: list[PolicyRequirement] | None = strawberry.field(description="Who reads it in clear.")
    readers: list[RoleAccessView] = strawberry.field(description="Each known role's access (admins: READ).")
    hidden: bool = strawberry.field(
        default=False, description="Marked hidden in the policy file: who may not read it gets a validation "
                                   "error, as if it did not exist, instead of null with FORBIDDEN.")
    searches: list[str] = strawberry.field(
        default_factory=list, description="Its lookups, e.g. 'email -> Customer.email': such an argument is only "
                                          "for who reads that field in clear (FORBIDDEN for others).")


@strawberry.type(description="One change to the policy (append-only log).")
class PolicyAuditEntry:
    version: int = strawberry.field(description="The overlay version this change produced.")
    at: DateTime = strawberry.field(description="When.")
    actor: str = strawberry.field(description="The admin's token subject.")
    action: str = strawberry.field(description="set or remove.")
    type_name: str = strawberry.field(description="The object type.")
    field_name: str = strawberry.field(description="The field.")
    before: FieldRuleView | None = strawberry.field(description="The field's own rule before; null: none.")
    after: FieldRuleView | None = strawberry.field(description="The rule after; null: back to the file's.")


@strawberry.type(description="A field the proposed policy would treat differently.")
class DryRunImpact:
    type_name: str = strawberry.field(description="The object type.")
    field_name: str = strawberry.field(description="The field.")
    change: str = strawberry.field(description="DENIED, ALLOWED, MASKED or UNMASKED.")
    roles: list[str] = strawberry.field(description="The callers' role sets affected.")
    subjects: list[str] = strawberry.field(description="The callers' token subjects affected.")
    operations: int = strawberry.field(description="How many of the replayed operations it touches.")


@strawberry.type(description="What a proposed policy would change for recently served operations.")
class DryRunReport:
    operations_replayed: int = strawberry.field(description="Operations replayed (this instance's latest).")
    impacts: list[DryRunImpact] = strawberry.field(description="Fields that would change, and for whom.")
    check: SchemaCheckReport = strawberry.field(
        description="The change against every instance's recorded usage over the schema_checks window: the "
                    "report `harmonia schema check` prints for the same policy.")


def _requirements(rule: Rule | None) -> list[PolicyRequirement] | None:
    if rule is None:
        return None
    return [PolicyRequirement(roles=sorted(r.roles), scopes=sorted(r.scopes)) for r in rule.anyof]


def _rule(inputs: list[RequirementInput] | None) -> Rule | None:
    if inputs is None:
        return None
    return Rule.of(*(Requirement.of(i.roles, i.scopes) for i in inputs))


def _field_rule(i: FieldPolicyInput) -> FieldRule:
    return FieldRule(read=_rule(i.read), mask=i.mask or None, clear=_rule(i.clear))


def _rule_view(rule: FieldRule | None) -> FieldRuleView | None:
    if rule is None:
        return None
    parts = [f"read: {rule.read.describe()}" if rule.read is not None else "read: the type's rule"]
    if rule.mask:
        parts.append(f"mask: {rule.mask}, clear for: {rule.clear.describe() if rule.clear else 'nobody'}")
    return FieldRuleView(read=_requirements(rule.read), mask=rule.mask, clear=_requirements(rule.clear),
                         summary="; ".join(parts))


def _policy_view(v: FieldPolicyView) -> FieldPolicy:
    return FieldPolicy(type_name=v.type_name, field_name=v.field_name, read=_requirements(v.read) or [],
                       read_summary=v.read.describe(), source=RuleSource(v.source), mask=v.mask,
                       clear=_requirements(v.clear),
                       readers=[RoleAccessView(role=r.role, access=AccessLevel(r.access)) for r in v.readers],
                       hidden=v.hidden, searches=list(v.searches))


def _audit_view(e: AuditEntry) -> PolicyAuditEntry:
    return PolicyAuditEntry(version=e.version, at=DateTime(e.at), actor=e.actor, action=e.action,
                            type_name=e.type_name, field_name=e.field_name, before=_rule_view(e.before),
                            after=_rule_view(e.after))


def plane(info: Info[Any, Any]) -> tuple[AdminPlane, str]:
    """The admin plane and the admin's subject; FORBIDDEN for anyone else (the plan already said so)."""
    ctx = context(info)
    admin = ctx.admin
    if admin is None:
        raise Forbidden("The admin plane is not available")
    access = admin.store.current.access_for(ctx.principal.roles, ctx.principal.scopes)
    if not access.is_admin:
        raise Forbidden("Only admins manage policies", requiredRoles=sorted(admin.store.current.admins))
    return admin, ctx.principal.sub


TYPE_ARG = strawberry.argument(description="The object type, e.g. Customer.")
FIELD_ARG = strawberry.argument(description="The field, e.g. email.")


@strawberry.type(description="Admin plane queries (admins only).")
class AdminQuery:
    @strawberry.field(description="Admins only: every Type.field's effective rule and each role's access.")
    def field_policies(
        self, info: Info[Any, Any],
        type_name: Annotated[str | None, strawberry.argument(description="Only this type.")] = None,
    ) -> list[FieldPolicy]:
        admin, _ = plane(info)
        return [_policy_view(v) for v in admin.field_policies(type_name)]

    @strawberry.field(description="Admins only: the latest policy changes, newest first.")
    async def policy_audit(
        self, info: Info[Any, Any],
        last: Annotated[int, strawberry.argument(description="How many entries (≤ 1000).")] = 50,
    ) -> list[PolicyAuditEntry]:
        admin, _ = plane(info)
        return [_audit_view(e) for e in await admin.audit(last)]

    @strawberry.field(description="Admins only: replay this instance's latest operations under the current policy "
                                  "with these changes, and list the fields that would change, for whom.")
    async def dry_run_policy(
        self, info: Info[Any, Any],
        changes: Annotated[list[FieldPolicyInput], strawberry.argument(description="The proposed field rules.")],
        last: Annotated[int, strawberry.argument(description="How many recent operations (≤ 1000).")] = 100,
        window: Annotated[str | None, strawberry.argument(description="Usage window of `check`, e.g. 7d.")] = None,
    ) -> DryRunReport:
        admin, _ = plane(info)
        proposed_rules = {(c.type_name, c.field_name): _field_rule(c) for c in changes}
        report = admin.dry_run(proposed_rules, last)
        current, proposed = admin.store.current, admin.proposed(proposed_rules)
        usage = await usage_window(info, window)
        found = policy_changes(admin.catalog, current, proposed, {e.grant for e in usage.entries})
        return DryRunReport(operations_replayed=report.replayed, impacts=[
            DryRunImpact(type_name=i.type_name, field_name=i.field_name, change=i.change, roles=list(i.roles),
                         subjects=list(i.subjects), operations=i.operations) for i in report.impacts],
            check=checked(info, found, usage, "proposed policy changes against the current policy"))


@strawberry.type(description="Admin plane: change who may read what, at runtime, on every gateway instance.")
class Mutation:
    @strawberry.field(description="Admins only: set a field's rule (an overlay on the policy file; audited).")
    async def set_field_policy(
        self, info: Info[Any, Any],
        input: Annotated[FieldPolicyInput, strawberry.argument(description="The field and its new rule.")],
    ) -> FieldPolicy:
        admin, actor = plane(info)
        await admin.set_field(input.type_name, input.field_name, _field_rule(input), actor=actor)
        return _policy_view(admin.view(input.type_name, input.field_name))

    @strawberry.field(description="Admins only: drop a field's runtime rule; the policy file's applies again.")
    async def remove_field_policy(
        self, info: Info[Any, Any],
        type_name: Annotated[str, TYPE_ARG], field_name: Annotated[str, FIELD_ARG],
    ) -> FieldPolicy:
        admin, actor = plane(info)
        await admin.remove_field(type_name, field_name, actor=actor)
        return _policy_view(admin.view(type_name, field_name))


# The admin plane's own output types: not rows of the policy matrix (only admins ever reach them).
ADMIN_TYPES = frozenset({"PolicyRequirement", "RoleAccessView", "FieldRuleView", "FieldPolicy", "PolicyAuditEntry",
                         "DryRunImpact", "DryRunReport", "SchemaCheckReport", "SchemaCheckChange", "AffectedClient",
                         "OperationUse"})
