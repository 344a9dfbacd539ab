"""The limits that apply to one caller: the global limits, raised by the caller's roles' overrides.

    limits = limits_for(settings.limits, frozenset({"analyst"}))
    limits.max_cost, limits.budget_maximum

A token with several roles gets the most generous value of each key among its roles, as it gets
the union of what each role may read. A caller with no known role (or none at all) gets the
global limits.
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
    overrides = [settings.roles[role] for role in sorted(set(roles)) if role in settings.roles]
    for key in _KEYS:
        raised = [v for o in overrides if (v := getattr(o, key)) is not None]
        if raised:
            values[key] = max(raised)
    return Limits(**values)
