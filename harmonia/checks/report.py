"""Changes joined with recorded usage: which clients and operations each one hurts, and the verdict.

    report = check(changes, entries, window_hours=168, threshold=Threshold.parse("0"), subject="schema.graphql")
    report.verdict, report.exit_code          # "BREAKING", 1

A breaking change whose affected operations over the window are at most the threshold (a count, or a
percentage of every operation recorded, as Hive's conditional breaking changes) is ACCEPTED: the
check passes and the report still names who it would hurt. Without recorded usage nothing is
accepted: a change nobody can vouch for is treated as used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from harmonia.checks.changes import BREAKING, Change
from harmonia.observability.usage import OPERATIONS, UsageEntry


@dataclass(frozen=True, slots=True)
class Threshold:
    operations: int = 0             # accepted when at most this many operations are affected
    percent: float | None = None    # or at most this share of all operations in the window

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """``"0"``, ``"25"`` (operations) or ``"0.5%"`` (of every operation); ValueError otherwise."""
        text = text.strip()
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 <= percent <= 100:
                raise ValueError(f"threshold {text!r}: a percentage is between 0% and 100%")
            return cls(percent=percent)
        if not text.isdigit():
            raise ValueError(f"threshold {text!r}: a number of operations (e.g. 10) or a percentage (e.g. 0.5%)")
        return cls(operations=int(text))

    def accepts(self, affected: int, total: int) -> bool:
        if affected == 0:
            return True
        if self.percent is not None:
            return total > 0 and affected * 100 <= self.percent * total
        return affected <= self.operations

    def describe(self) -> str:
        return f"{self.percent:g}% of operations" if self.percent is not None else f"{self.operations} operations"


@dataclass(frozen=True, slots=True)
class ClientImpact:
    client: str
    operations: int
    last_seen: datetime
    versions: tuple[str, ...]
    by_operation: tuple[tuple[str, int], ...]   # (operation name, operations), most first


@dataclass(frozen=True, slots=True)
class ChangeImpact:
    change: Change
    operations: int
    clients: tuple[ClientImpact, ...]
    accepted: bool                  # a breaking change under the threshold (or any non-breaking one)

    @property
    def blocking(self) -> bool:
        return self.change.severity == BREAKING and not self.accepted


@dataclass(frozen=True, slots=True)
class CheckReport:
    subject: str
    window_hours: int
    usage_known: bool
    total_operations: int
    clients_seen: int
    threshold: Threshold
    impacts: tuple[ChangeImpact, ...]
    ignored_clients: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        return "BREAKING" if any(i.blocking for i in self.impacts) else "SAFE"

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict == "BREAKING" else 0


def _impact(change: Change, entries: list[UsageEntry], usage_known: bool, total: int,
            threshold: Threshold) -> ChangeImpact:
    # One operation selecting several affected fields is one affected operation: the most-used field
    # of the change within each (hour, client, operation, version, grant) stands for it.
    per_run: dict[tuple[int, str, str, str, str], int] = {}
    for e in entries:
        if e.coordinate in change.coordinates and (change.grants is None or e.grant in change.grants):
            key = (e.hour, e.client, e.operation, e.version, e.grant)
            per_run[key] = max(per_run.get(key, 0), e.count)
    by_client: dict[str, Counter[str]] = {}
    last: dict[str, int] = {}
    versions: dict[str, set[str]] = {}
    for (hour, client, operation, version, _), n in per_run.items():
        by_client.setdefault(client, Counter())[operation or "(unnamed)"] += n
        last[client] = max(last.get(client, hour), hour)
        if version:
            versions.setdefault(client, set()).add(version)
    clients = tuple(sorted(
        (ClientImpact(c, sum(ops.values()), datetime.fromtimestamp(last[c] * 3600, UTC),
                      tuple(sorted(versions.get(c, ()))), tuple(sorted(ops.items(), key=lambda p: (-p[1], p[0]))))
         for c, ops in by_client.items()), key=lambda i: (-i.operations, i.client)))
    affected = sum(per_run.values())
    accepted = change.severity != BREAKING or (usage_known and threshold.accepts(affected, total))
    return ChangeImpact(change, affected, clients, accepted)


def check(changes: Iterable[Change], entries: Iterable[UsageEntry], *, window_hours: int, threshold: Threshold,
          subject: str, usage_known: bool = True, ignored_clients: Iterable[str] = ()) -> CheckReport:
    ignored = tuple(sorted(set(ignored_clients)))
    kept = [e for e in entries if e.client not in ignored]
    total = sum(e.count for e in kept if e.coordinate == OPERATIONS)
    impacts = tuple(_impact(c, kept, usage_known, total, threshold) for c in changes)
    order = {True: 0, False: 1}
    impacts = tuple(sorted(impacts, key=lambda i: (order[i.blocking], i.change.severity != BREAKING,
                                                    -i.operations, i.change.description)))
    return CheckReport(subject, window_hours, usage_known, total, len({e.client for e in kept}), threshold,
                       impacts, ignored)
