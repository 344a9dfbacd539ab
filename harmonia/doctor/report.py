"""What ``harmonia doctor`` found: one row per source, a verdict per column, each problem with its fix.

    row = SourceRow("shopify")
    row.set("scopes", WARN, "read_orders, read_customers")
    row.problem(FAIL, "the token lacks read_all_orders: orders older than 60 days are invisible",
                "add read_all_orders to the app's access scopes and reinstall it")
    print(render([row], today)); exit_code([row], strict=False)       # 1: something failed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "-"
COLUMNS = ("credentials", "scopes", "version", "quota")
HEADINGS = {"credentials": "CREDENTIALS", "scopes": "SCOPES", "version": "API VERSION", "quota": "QUOTA HEADROOM"}
_RANK = {SKIP: 0, OK: 1, WARN: 2, FAIL: 3}


@dataclass
class Problem:
    severity: str
    what: str
    fix: str


@dataclass
class SourceRow:
    source: str
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (verdict, text)
    problems: list[Problem] = field(default_factory=list)

    def set(self, column: str, verdict: str, text: str) -> None:
        self.cells[column] = (verdict, text)

    def problem(self, severity: str, what: str, fix: str) -> None:
        self.problems.append(Problem(severity, what, fix))

    @property
    def verdict(self) -> str:
        marks = [v for v, _ in self.cells.values()] + [p.severity for p in self.problems]
        return max(marks, key=_RANK.__getitem__, default=SKIP)

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "status": self.verdict,
                "checks": {c: {"status": v, "detail": t} for c, (v, t) in self.cells.items()},
                "problems": [p.__dict__ for p in self.problems]}


def exit_code(rows: list[SourceRow], *, strict: bool = False) -> int:
    worst = max((r.verdict for r in rows), key=_RANK.__getitem__, default=OK)
    return 1 if worst == FAIL or (strict and worst == WARN) else 0


def render(rows: list[SourceRow], today: date) -> str:
    cells = [[r.source, *(_cell(r, c) for c in COLUMNS)] for r in rows]
    header = ["SOURCE", *(HEADINGS[c] for c in COLUMNS)]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    lines = [f"harmonia doctor: {len(rows)} sources, {today.isoformat()}", ""]
    for line in [header, *cells]:
        lines.append("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())
    problems = [(r.source, p) for r in rows for p in r.problems]
    lines.append("")
    if not problems:
        lines.append("All well: every source answered with valid credentials, its scopes and a supported version.")
        return "\n".join(lines)
    failed = sum(1 for _, p in problems if p.severity == FAIL)
    lines.append(f"{failed} problem(s), {len(problems) - failed} warning(s):")
    for source, p in problems:
        lines.append(f"  {p.severity.upper():<4} {source}: {p.what}")
        lines.append(f"       fix: {p.fix}")
    return "\n".join(lines)


def _cell(row: SourceRow, column: str) -> str:
    verdict, text = row.cells.get(column, (SKIP, ""))
    return f"{verdict:<4} {text}".rstrip()
