"""Field access per role: which types and fields a principal may read, and what it sees masked.

    access = DEMO_POLICY.access_for(frozenset({"analyst"}))
    access.decide("Customer", "email")      -> Decision(allowed=True, mask="email")
    apply_mask("email", "ada@example.com")  -> "a***@example.com"

Decided once per principal (the result is cached by role set), so a field read costs one dict
lookup. A token with several roles gets the union: allowed when any role allows, in clear when
any allowing role sees it in clear. Deny unless allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

ALL = "*"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    mask: str | None = None
    missing_roles: tuple[str, ...] = ()


ALLOW = Decision(True)


@dataclass(frozen=True)
class RoleRule:
    """One role: the types it reads, fields it may not read, and fields it sees masked."""

    types: frozenset[str]
    denied: frozenset[str] = frozenset()            # "Type.field"
    masks: Mapping[str, str] = field(default_factory=dict)  # "Type.field" -> mask name


class FieldAccess:
    def __init__(self, policy: Policy, roles: frozenset[str]) -> None:
        self._policy = policy
        self._roles = roles
        self._cache: dict[tuple[str, str], Decision] = {}

    def decide(self, type_name: str, field_name: str) -> Decision:
        key = (type_name, field_name)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._cache[key] = self._policy.decide(self._roles, type_name, field_name)
        return decision


class Policy:
    def __init__(self, roles: Mapping[str, RoleRule]) -> None:
        self.roles = dict(roles)

    def decide(self, roles: frozenset[str], type_name: str, field_name: str) -> Decision:
        path = f"{type_name}.{field_name}"
        masks: list[str] = []
        for role in roles:
            rule = self.roles.get(role)
            if rule is None or (ALL not in rule.types and type_name not in rule.types) or path in rule.denied:
                continue
            mask = rule.masks.get(path)
            if mask is None:
                return ALLOW
            masks.append(mask)
        if masks:
            return Decision(True, mask=masks[0])
        allowing = sorted(r for r, rule in self.roles.items()
                          if (ALL in rule.types or type_name in rule.types) and path not in rule.denied)
        return Decision(False, missing_roles=tuple(allowing))

    @lru_cache(maxsize=256)  # noqa: B019 - policies live as long as the process; role sets are few
    def access_for(self, roles: frozenset[str]) -> FieldAccess:
        return FieldAccess(self, roles)


DEMO_POLICY = Policy({
    "admin": RoleRule(types=frozenset({ALL})),
    # Mutations are fields of "Mutation"; eraseCustomer also needs the token's `privacy` scope.
    "marketer": RoleRule(types=frozenset({"Customer", "Order", "LineItem", "Campaign", "CampaignStats",
                                          "Analytics", "Mutation"})),
    "analyst": RoleRule(
        types=frozenset({"Customer", "Order", "LineItem", "Campaign", "CampaignStats", "Analytics"}),
        masks={"Customer.email": "email", "Customer.phone": "phone"},
    ),
    "support": RoleRule(
        types=frozenset({"Customer", "Order", "LineItem", "Campaign", "Mutation"}),
        denied=frozenset({"Campaign.stats", "Campaign.analytics", "Mutation.updateCampaignStatus"}),
    ),
})


def apply_mask(mask: str, value: str | None) -> str | None:
    """Masked values are altered, never the value in clear."""
    if value is None:
        return None
    if mask == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}" if domain else "***"
    if mask == "phone":
        return f"***{value[-4:]}" if len(value) > 4 else "***"
    return None  # "redact" and anything unknown: nothing of the value
