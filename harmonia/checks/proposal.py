"""``harmonia schema check PROPOSED``: tell what PROPOSED is, diff it against what runs, join the usage.

    report = await check_proposal(Path("next.graphql"), current_schema=schema, current_policy=policy,
                                  catalog=catalog, usage=FieldUsage(redis_url), window_hours=168,
                                  threshold=Threshold(), ignored_clients=())

PROPOSED is an SDL file (``.graphql``, ``.graphqls``, ``.gql``, ``.sdl``), a policy file (``.yaml``,
``.yml``) or a folder of declared sources (the schema they would make, built by the caller's
``declared_schema``). A policy file is checked as it would run: with the admins' runtime changes on top.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, build_schema

from harmonia.auth.policy import Policy
from harmonia.auth.policy_file import PolicyError, load_policy
from harmonia.auth.rules import FieldShape
from harmonia.checks.changes import Change, schema_changes
from harmonia.checks.policy_changes import policy_changes
from harmonia.checks.report import CheckReport, Threshold, check
from harmonia.observability.usage import FieldUsage, UsageEntry

SCHEMA_SUFFIXES = (".graphql", ".graphqls", ".gql", ".sdl")
POLICY_SUFFIXES = (".yaml", ".yml")
MAX_WINDOW_HOURS = 24 * 90
_WINDOW = re.compile(r"^(\d+)\s*([dh])$")


class ProposalError(ValueError):
    """PROPOSED cannot be checked (unreadable, invalid, or of a kind not supported): exit 2."""


def parse_window(text: str) -> int:
    """``7d`` or ``24h`` -> hours (1 h .. 90 days)."""
    match = _WINDOW.match(text.strip().lower())
    if match is None:
        raise ProposalError(f"window {text!r}: write it as days or hours, e.g. 7d or 24h")
    hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    if not 1 <= hours <= MAX_WINDOW_HOURS:
        raise ProposalError(f"window {text!r}: between 1h and {MAX_WINDOW_HOURS // 24}d")
    return hours


Catalog = Mapping[str, Mapping[str, FieldShape]]
# A folder of declared sources -> the schema it would make (ProposalError when a declaration is refused).
DeclaredSchema = Callable[[Path], GraphQLSchema]


def proposed_changes(path: Path, *, current_schema: GraphQLSchema, current_policy: Policy, catalog: Catalog,
                     grants: Iterable[str], declared_schema: DeclaredSchema | None = None) -> tuple[str, list[Change]]:
    """(what was compared, the changes), or ProposalError."""
    if path.is_dir():
        if declared_schema is None:
            raise ProposalError(f"{path} is a folder: pass a schema (.graphql) or a policy file (.yaml)")
        return (f"proposed sources folder {path.name} against the running schema",
                schema_changes(current_schema, declared_schema(path)))
    if not path.is_file():
        raise ProposalError(f"{path}: no such file")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8", errors="replace")
    if suffix in POLICY_SUFFIXES:
        try:
            proposed = load_policy(path, catalog)
        except PolicyError as exc:
            raise ProposalError(str(exc)) from None
        proposed = proposed.with_overlays(current_policy.overlays, version=-1)  # as it would run
        return (f"proposed policy {path.name} against the current policy",
                policy_changes(catalog, current_policy, proposed, grants))
    if suffix in SCHEMA_SUFFIXES:
        try:
            proposed_schema = build_schema(text)
        except (GraphQLError, TypeError) as exc:
            raise ProposalError(f"{path}: not a valid schema: {exc}") from None
        return (f"proposed schema {path.name} against the running schema",
                schema_changes(current_schema, proposed_schema))
    raise ProposalError(f"{path}: expected a schema ({', '.join(SCHEMA_SUFFIXES)}), a policy file "
                        f"({', '.join(POLICY_SUFFIXES)}) or a folder of declared sources")


async def check_proposal(path: Path, *, current_schema: GraphQLSchema, current_policy: Policy,
                         catalog: Catalog, usage: FieldUsage | None,
                         window_hours: int, threshold: Threshold, ignored_clients: Iterable[str] = (),
                         declared_schema: DeclaredSchema | None = None) -> CheckReport:
    entries: list[UsageEntry] = await usage.entries(window_hours) if usage is not None else []
    subject, changes = proposed_changes(path, current_schema=current_schema, current_policy=current_policy,
                                        catalog=catalog, grants={e.grant for e in entries},
                                        declared_schema=declared_schema)
    return check(changes, entries, window_hours=window_hours, threshold=threshold, subject=subject,
                 usage_known=usage is not None, ignored_clients=ignored_clients)
