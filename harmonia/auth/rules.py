"""Who may read a field: any-of lists of all-of sets of roles and scopes (Apollo's ``@requiresScopes``).

    rule = Rule.of(Requirement.of(roles=["marketer"]), Requirement.of(roles=["analyst"], scopes=["reports"]))
    rule.allows(frozenset({"analyst"}), frozenset({"reports"}))    # True
    rule.missing(frozenset({"analyst"}), frozenset())              # ({"roles": [], "scopes": ["reports"]}, ...)

A ``Requirement`` is satisfied when the principal holds all of its roles and all of its scopes;
a ``Rule`` when any one of its requirements is. ``EVERYONE`` (``"*"`` in a policy file) is the
rule with one empty requirement; ``NOBODY`` has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MASKS = ("email", "phone", "redact")


@dataclass(frozen=True, slots=True)
class Requirement:
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()

    @staticmethod
    def of(roles: Iterable[str] = (), scopes: Iterable[str] = ()) -> Requirement:
        return Requirement(frozenset(roles), frozenset(scopes))

    def satisfied_by(self, roles: frozenset[str], scopes: frozenset[str]) -> bool:
        return self.roles <= roles and self.scopes <= scopes

    def to_data(self) -> str | dict[str, list[str]]:
        """The policy-file spelling: a bare role name when that is all it is."""
        if not self.roles and not self.scopes:
            return "*"
        if len(self.roles) == 1 and not self.scopes:
            return next(iter(self.roles))
        data: dict[str, list[str]] = {}
        if self.roles:
            data["roles"] = sorted(self.roles)
        if self.scopes:
            data["scopes"] = sorted(self.scopes)
        return data

    def sort_key(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(sorted(self.roles)), tuple(sorted(self.scopes))


@dataclass(frozen=True, slots=True)
class Rule:
    anyof: tuple[Requirement, ...] = ()

    @staticmethod
    def of(*requirements: Requirement) -> Rule:
        unique = sorted(set(requirements), key=Requirement.sort_key)
        return Rule(tuple(unique))

    @staticmethod
    def roles(*names: str) -> Rule:
        return Rule.of(*(Requirement.of(roles=[n]) for n in names))

    def allows(self, roles: frozenset[str], scopes: frozenset[str]) -> bool:
        return any(r.satisfied_by(roles, scopes) for r in self.anyof)

    def missing(self, roles: frozenset[str], scopes: frozenset[str]) -> tuple[dict[str, list[str]], ...]:
        """Per alternative, what the principal lacks (any one of them would do)."""
        return tuple({"roles": sorted(r.roles - roles), "scopes": sorted(r.scopes - scopes)} for r in self.anyof)

    def both(self, other: Rule) -> Rule:
        """Satisfied when this rule and ``other`` both are: every pairing of their alternatives, without
        those that ask for more than another one does (``marketer`` makes ``marketer + support`` moot)."""
        pairs = {Requirement(a.roles | b.roles, a.scopes | b.scopes) for a in self.anyof for b in other.anyof}
        return Rule.of(*(p for p in pairs if not any(q != p and q.roles <= p.roles and q.scopes <= p.scopes
                                                     for q in pairs)))

    def with_role(self, role: str, present: bool) -> Rule:
        """This rule with ``role`` alone added as an alternative, or every alternative naming it removed."""
        if present:
            return Rule.of(*self.anyof, Requirement.of(roles=[role]))
        return Rule.of(*(r for r in self.anyof if role not in r.roles))

    def to_data(self) -> str | list[Any]:
        if self == EVERYONE:
            return "*"
        return [r.to_data() for r in self.anyof]

    def describe(self) -> str:
        if not self.anyof:
            return "nobody"
        parts = []
        for r in self.anyof:
            names = sorted(r.roles) + [f"scope:{s}" for s in sorted(r.scopes)]
            parts.append(" + ".join(names) if names else "everyone")
        return " | ".join(parts)


EVERYONE = Rule((Requirement(),))
NOBODY = Rule(())


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A field's own rule; ``read`` None inherits the type's. ``clear``: who sees a masked field in clear."""

    read: Rule | None = None
    mask: str | None = None
    clear: Rule | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.read is not None:
            data["read"] = self.read.to_data()
        if self.mask is not None:
            data["mask"] = self.mask
        if self.clear is not None:
            data["clear"] = self.clear.to_data()
        return data


@dataclass(frozen=True, slots=True)
class TypeRule:
    read: Rule | None = None
    fields: tuple[tuple[str, FieldRule], ...] = ()

    def field(self, name: str) -> FieldRule | None:
        for field_name, rule in self.fields:
            if field_name == name:
                return rule
        return None


@dataclass(frozen=True, slots=True)
class Lookup:
    """An argument that finds records by a field's value: ``customerByEmail(email:)`` searches ``Customer.email``.

    ``argument`` is the argument's name, or a dotted path into an input object (``filter.email``). Only
    principals who read the searched field in clear may use it: a hit and a miss would otherwise confirm
    a value they read masked (or may not read at all)."""

    argument: str
    type_name: str
    field_name: str

    @property
    def searched(self) -> str:
        return f"{self.type_name}.{self.field_name}"


@dataclass(frozen=True, slots=True)
class FieldShape:
    """What the policy needs to know of a schema field, without importing a GraphQL library."""

    type_name: str      # the named (unwrapped) type
    nullable: bool
    leaf: bool          # scalar or enum
    string: bool        # String or ID
    arguments: frozenset[str] = frozenset()  # its arguments, and dotted paths into input objects


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    mask: str | None = None
    missing: tuple[dict[str, list[str]], ...] = ()
    searched: str | None = None  # denied as a lookup by this field ("Customer.email"), not as a read

    @property
    def missing_roles(self) -> tuple[str, ...]:
        """Roles that alone would have been enough."""
        return tuple(sorted(m["roles"][0] for m in self.missing if len(m["roles"]) == 1 and not m["scopes"]))

    def why(self) -> dict[str, Any]:
        """The ``extensions`` of a FORBIDDEN error: what would have been enough."""
        why: dict[str, Any] = {
            "requiredRoles": sorted({role for m in self.missing for role in m["roles"]}),
            "requiredScopes": sorted({scope for m in self.missing for scope in m["scopes"]}),
            "missing": list(self.missing),
        }
        if self.searched is not None:
            why["searchedField"] = self.searched
        return why


ALLOW = Decision(True)


def rule_from_data(data: Any) -> Rule:
    """Back from ``Rule.to_data()`` (trusted: written by us, e.g. an overlay in Redis)."""
    if data == "*":
        return EVERYONE
    requirements = []
    for entry in data:
        if entry == "*":
            requirements.append(Requirement())
        elif isinstance(entry, str):
            requirements.append(Requirement.of(roles=[entry]))
        else:
            requirements.append(Requirement.of(entry.get("roles", ()), entry.get("scopes", ())))
    return Rule.of(*requirements)


def field_rule_from_data(data: dict[str, Any]) -> FieldRule:
    return FieldRule(read=rule_from_data(data["read"]) if "read" in data else None, mask=data.get("mask"),
                     clear=rule_from_data(data["clear"]) if "clear" in data else None)
