"""The limits that apply to one caller: the global limits, raised by the caller's roles' overrides.

    limits = limits_for(settings.limits, frozenset({"analyst"}))
    limits.max_cost, limits.budget_maximum

A role's value for a key is its override, else the global value; a token with several roles gets
the most generous value among its roles, as it gets the union of what each role may read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harmonia.settings import LimitsSettings

_KEYS = ("max_cost", "max_depth", "max_aliases", "max_tokens", "max_root_fields", "max_page_size",
         "budget_maximum", "budget_restore_rate")


@dataclass(frozen=True, slots=True)
class Limits:
    max_cost: int
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_root_fields: int
    max_page_size: int
    budget_maximum: int
    budget_restore_rate: float


def limits_for(settings: LimitsSettings, roles: Iterable[str] = ()) -> Limits:
    values = {key: getattr(settings, key) for key in _KEYS}
    overrides = [settings.roles.get(role) for role in sorted(set(roles))]
    if not overrides:
        return Limits(**values)
    # Each role's value is its override, else the global one; the caller gets the largest.
    return Limits(**{key: max(v if o is not None and (v := getattr(o, key)) is not None else values[key]
                              for o in overrides) for key in _KEYS})
