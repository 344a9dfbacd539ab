"""What a proposed field policy changes, for whom: fields newly denied or masked (breaking, dangerous) or opened.

    changes = policy_changes(catalog, current, proposed, grants={"marketer", "analyst|privacy"})

Each role set (a grant, as usage records it: ``analyst+marketer|privacy``) that used the gateway is
decided under both policies, and so is each role the policies name, alone: a field read before and
denied now is BREAKING for the grants it hits; masked now (values altered) is DANGEROUS; opened now
(denied before, or unmasked) is DANGEROUS too, whoever used it: personal data reaches more people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from harmonia.auth.policy import ADMIN_PLANE_FIELDS, Policy
from harmonia.auth.rules import FieldShape
from harmonia.checks.changes import BREAKING, DANGEROUS, Change

Catalog = Mapping[str, Mapping[str, FieldShape]]
# (before, after) -> (severity, kind, words)
_OUTCOMES = {
    ("READ", "DENIED"): (BREAKING, "POLICY_DENIED", "denied (was read in clear)"),
    ("MASKED", "DENIED"): (BREAKING, "POLICY_DENIED", "denied (was read masked)"),
    ("READ", "MASKED"): (DANGEROUS, "POLICY_MASKED", "masked (was read in clear)"),
    ("DENIED", "READ"): (DANGEROUS, "POLICY_ALLOWED", "readable in clear (was denied)"),
    ("DENIED", "MASKED"): (DANGEROUS, "POLICY_ALLOWED", "readable masked (was denied)"),
    ("MASKED", "READ"): (DANGEROUS, "POLICY_UNMASKED", "readable in clear (was masked)"),
}


def parse_grant(grant: str) -> tuple[frozenset[str], frozenset[str]]:
    """``analyst+marketer|privacy`` -> ({analyst, marketer}, {privacy})."""
    roles, _, scopes = grant.partition("|")
    return frozenset(r for r in roles.split("+") if r), frozenset(s for s in scopes.split() if s)


def _access(policy: Policy, grant: str, type_name: str, field_name: str) -> str:
    roles, scopes = parse_grant(grant)
    decision = policy.decide(roles, scopes, type_name, field_name)
    if not decision.allowed:
        return "DENIED"
    return "MASKED" if decision.mask else "READ"


def policy_changes(catalog: Catalog, current: Policy, proposed: Policy, grants: Iterable[str] = ()) -> list[Change]:
    every = set(grants) | set(current.known_roles()) | set(proposed.known_roles())
    found: list[Change] = []
    for type_name in sorted(catalog):
        for field_name in catalog[type_name]:
            if (type_name, field_name) in ADMIN_PLANE_FIELDS:
                continue
            by_outcome: dict[tuple[str, str], set[str]] = {}
            for grant in every:
                before = _access(current, grant, type_name, field_name)
                after = _access(proposed, grant, type_name, field_name)
                if before != after:
                    by_outcome.setdefault((before, after), set()).add(grant)
            for (before, after), hit in sorted(by_outcome.items()):
                severity, kind, words = _OUTCOMES[(before, after)]
                who = ", ".join(sorted(g or "(no role)" for g in hit))
                found.append(Change(severity, kind, f"{type_name}.{field_name}: {words} for {who}.",
                                    frozenset({f"{type_name}.{field_name}"}), frozenset(hit)))
    return found
