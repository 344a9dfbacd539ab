"""The effective field policy: the policy file plus the admins' runtime overlays, and its decisions.

    policy = load_policy("policy.yaml", catalog)       # harmonia.auth.policy_file; DEMO_POLICY is the default
    access = policy.access_for(frozenset({"analyst"}), frozenset())
    access.decide("Customer", "email")      -> Decision(allowed=True, mask="email")
    apply_mask("email", "ada@example.com")  -> "a***@example.com"

A field's read rule is its own (an overlay beats the file), else its type's, else the global
default. A type's rule also covers its Relay wrappers ``<Type>Connection`` and ``<Type>Edge`` unless
they have their own. Roles listed as ``admins`` read every field in clear and alone use the admin
plane (whose fields no policy can open to anyone else). A token with several roles gets the union:
allowed when any of its roles (and scopes) satisfies the rule, in clear when it satisfies ``clear``.

Who may not read a field gets null with FORBIDDEN naming what would be enough, unless the field is
*hidden* from them: the admin plane for everyone but the admins, and any field or type the policy
marks ``hidden``. A hidden field does not exist for them: a plain validation error, and no trace of it
in their introspection or suggestions. A *lookup* (an argument that finds records by a field's value,
``customerByEmail(email:)``) is allowed only to principals who read the searched field in clear.

A Policy is immutable; an overlay change builds a new one, so decisions are cached per policy and
principal kind, and one operation never sees two policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harmonia.auth.rules import ALLOW, EVERYONE, NOBODY, Decision, FieldRule, Lookup, Rule, TypeRule

# Only admins use the admin plane (and the operators' cache eviction and field-usage report), whatever
# a policy file or overlay says.
ADMIN_PLANE_FIELDS = frozenset({("Query", "fieldPolicies"), ("Query", "policyAudit"), ("Query", "dryRunPolicy"),
                                ("Mutation", "setFieldPolicy"), ("Mutation", "removeFieldPolicy"),
                                ("Mutation", "evictCache"), ("Query", "fieldUsage"), ("Query", "schemaCheck"),
                                ("Query", "sources")})
ADMIN_PLANE_TYPES: frozenset[str] = frozenset()  # types wholly the admin plane's (none: it shares Mutation)
# Lookups the built-in schema makes whatever a policy file says (a file may declare more, never fewer).
BUILT_IN_LOOKUPS: Mapping[tuple[str, str], tuple[Lookup, ...]] = {
    ("Query", "customerByEmail"): (Lookup("email", "Customer", "email"),),
}
RELAY_SUFFIXES = ("Connection", "Edge")
DEMO_SOURCE = "built-in demo policy (harmonia/auth/demo_policy.yaml)"


class FieldAccess:
    """One principal kind's decisions under one policy, memoised: a field read costs a dict lookup."""

    def __init__(self, policy: Policy, roles: frozenset[str], scopes: frozenset[str]) -> None:
        self.policy = policy
        self.roles = roles
        self.scopes = scopes
        self.is_admin = bool(roles & policy.admins)
        self._cache: dict[tuple[str, str], Decision] = {}
        self._hidden: dict[tuple[str, str], bool] = {}
        self._lookups: dict[Lookup, Decision] = {}

    def decide(self, type_name: str, field_name: str) -> Decision:
        key = (type_name, field_name)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._cache[key] = self.policy.decide(self.roles, self.scopes, type_name, field_name)
        return decision

    def hides(self, type_name: str, field_name: str) -> bool:
        key = (type_name, field_name)
        hidden = self._hidden.get(key)
        if hidden is None:
            hidden = self._hidden[key] = self.policy.hides(self.roles, self.scopes, type_name, field_name)
        return hidden

    def lookups(self, type_name: str, field_name: str) -> tuple[Lookup, ...]:
        return self.policy.lookups_of(type_name, field_name)

    def decide_lookup(self, lookup: Lookup) -> Decision:
        decision = self._lookups.get(lookup)
        if decision is None:
            decision = self._lookups[lookup] = self.policy.decide_lookup(self.roles, self.scopes, lookup)
        return decision


@dataclass(frozen=True)
class Policy:
    admins: frozenset[str]
    default: Rule
    types: Mapping[str, TypeRule]
    overlays: Mapping[tuple[str, str], FieldRule] = field(default_factory=dict)
    version: int = 0
    source: str = DEMO_SOURCE
    hidden: frozenset[tuple[str, str]] = frozenset()   # fields marked hidden: (type, field)
    hidden_types: frozenset[str] = frozenset()          # types marked hidden (their Relay wrappers too)
    # The file's lookups (the built-in ones are added in __post_init__): who may search by what.
    lookups: Mapping[tuple[str, str], tuple[Lookup, ...]] = field(default_factory=dict)
    _access: dict[tuple[frozenset[str], frozenset[str]], FieldAccess] = field(
        default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        merged = {key: tuple(dict.fromkeys((*BUILT_IN_LOOKUPS.get(key, ()), *self.lookups.get(key, ()))))
                  for key in {*BUILT_IN_LOOKUPS, *self.lookups}}
        object.__setattr__(self, "lookups", merged)

    def with_overlays(self, overlays: Mapping[tuple[str, str], FieldRule], version: int) -> Policy:
        return Policy(self.admins, self.default, self.types, dict(overlays), version, self.source,
                      self.hidden, self.hidden_types, self.lookups)

    def access_for(self, roles: frozenset[str], scopes: frozenset[str] = frozenset()) -> FieldAccess:
        key = (roles, scopes)
        access = self._access.get(key)
        if access is None:
            if len(self._access) > 1024:  # role/scope combinations are few; bound it anyway
                self._access.clear()
            access = self._access[key] = FieldAccess(self, roles, scopes)
        return access

    # --- rules ------------------------------------------------------------------------------

    def field_rule(self, type_name: str, field_name: str) -> FieldRule | None:
        overlay = self.overlays.get((type_name, field_name))
        if overlay is not None:
            return overlay
        type_rule = self.types.get(type_name)
        return type_rule.field(field_name) if type_rule else None

    def type_read(self, type_name: str) -> Rule:
        type_rule = self.types.get(type_name)
        if type_rule is not None and type_rule.read is not None:
            return type_rule.read
        for suffix in RELAY_SUFFIXES:
            if type_name.endswith(suffix) and len(type_name) > len(suffix):
                return self.type_read(type_name[: -len(suffix)])
        return self.default

    def read_rule(self, type_name: str, field_name: str) -> Rule:
        if type_name in ADMIN_PLANE_TYPES or (type_name, field_name) in ADMIN_PLANE_FIELDS:
            return NOBODY
        own = self.field_rule(type_name, field_name)
        if own is not None and own.read is not None:
            return own.read
        return self.type_read(type_name)

    def clear_rule(self, type_name: str, field_name: str) -> Rule:
        """Who reads the field in clear: its read rule, and its ``clear`` rule when it has a mask."""
        read = self.read_rule(type_name, field_name)
        own = self.field_rule(type_name, field_name)
        if own is None or own.mask is None:
            return read
        return read.both(own.clear or NOBODY)

    def marked_hidden(self, type_name: str, field_name: str) -> bool:
        if (type_name, field_name) in self.hidden or type_name in self.hidden_types:
            return True
        return any(type_name.endswith(suffix) and type_name not in self.types
                   and type_name[: -len(suffix)] in self.hidden_types for suffix in RELAY_SUFFIXES)

    def hides(self, roles: frozenset[str], scopes: frozenset[str], type_name: str, field_name: str) -> bool:
        """Whether the field does not exist for this principal (validation error, absent from its schema)."""
        if roles & self.admins:
            return False
        if type_name in ADMIN_PLANE_TYPES or (type_name, field_name) in ADMIN_PLANE_FIELDS:
            return True
        return self.marked_hidden(type_name, field_name) and not self.decide(roles, scopes, type_name,
                                                                              field_name).allowed

    def lookups_of(self, type_name: str, field_name: str) -> tuple[Lookup, ...]:
        return self.lookups.get((type_name, field_name), ())

    def decide_lookup(self, roles: frozenset[str], scopes: frozenset[str], lookup: Lookup) -> Decision:
        """Allowed when the principal reads the searched field in clear."""
        searched = self.decide(roles, scopes, lookup.type_name, lookup.field_name)
        if searched.allowed and searched.mask is None:
            return ALLOW
        rule = self.with_admins(self.clear_rule(lookup.type_name, lookup.field_name))
        return Decision(False, missing=rule.missing(roles, scopes), searched=lookup.searched)

    def with_admins(self, rule: Rule) -> Rule:
        return Rule.of(*rule.anyof, *Rule.roles(*self.admins).anyof)

    def decide(self, roles: frozenset[str], scopes: frozenset[str], type_name: str, field_name: str) -> Decision:
        if roles & self.admins:
            return ALLOW
        rule = self.read_rule(type_name, field_name)
        if not rule.allows(roles, scopes):
            return Decision(False, missing=self.with_admins(rule).missing(roles, scopes))
        own = self.field_rule(type_name, field_name)
        if own is None or own.mask is None:
            return ALLOW
        if own.clear is not None and own.clear.allows(roles, scopes):
            return ALLOW
        return Decision(True, mask=own.mask)

    # --- what the admin page and `harmonia policy export` show --------------------------------

    def known_roles(self) -> list[str]:
        named: set[str] = set(self.admins)
        rules = [self.default]
        for type_rule in self.types.values():
            rules.append(type_rule.read or NOBODY)
            for _, f in type_rule.fields:
                rules += [f.read or NOBODY, f.clear or NOBODY]
        for f in self.overlays.values():
            rules += [f.read or NOBODY, f.clear or NOBODY]
        for rule in rules:
            for requirement in rule.anyof:
                named |= requirement.roles
        return sorted(named)

    def to_data(self) -> dict[str, Any]:
        """The effective policy in the policy-file format (overlays folded in)."""
        types: dict[str, Any] = {}
        names = sorted(set(self.types) | {t for t, _ in self.overlays} | self.hidden_types
                       | {t for t, _ in self.hidden} | {t for t, _ in self.lookups})
        for name in names:
            type_rule = self.types.get(name, TypeRule())
            fields = dict(type_rule.fields)
            fields.update({f: rule for (t, f), rule in self.overlays.items() if t == name})
            entry: dict[str, Any] = {}
            if type_rule.read is not None:
                entry["read"] = type_rule.read.to_data()
            if name in self.hidden_types:
                entry["hidden"] = True
            field_data = {f: fields[f].to_data() for f in fields}
            for t, f in self.hidden:
                if t == name:
                    field_data.setdefault(f, {})["hidden"] = True
            for (t, f), lookups in self.lookups.items():
                if t == name and lookups:
                    field_data.setdefault(f, {})["searches"] = {k.argument: k.searched for k in lookups}
            if field_data:
                entry["fields"] = {f: field_data[f] for f in sorted(field_data)}
            types[name] = entry
        default: Any = "deny" if self.default == NOBODY else "allow" if self.default == EVERYONE \
            else self.default.to_data()
        return {"version": 1, "admins": sorted(self.admins), "default": default, "types": types}


def apply_mask(mask: str, value: Any) -> Any:
    """Masked values are altered, never the value in clear: ``a***@example.com``, ``***1234``, or null."""
    if value is None:
        return None
    if mask == "email":
        local, _, domain = str(value).partition("@")
        return f"{local[:1]}***@{domain}" if domain else "***"
    if mask == "phone":
        text = str(value)
        return f"***{text[-4:]}" if len(text) > 4 else "***"
    return None  # "redact" and anything unknown: nothing of the value
