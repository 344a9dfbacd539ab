"""A check report as text for people (the CLI, the admin page) and as JSON for CI.

    print(render_text(report))
    json.dumps(render_json(report))
"""

from __future__ import annotations

from typing import Any

from harmonia.checks.report import ChangeImpact, CheckReport

MAX_CLIENTS_SHOWN = 10


def _when(impact: ChangeImpact) -> str:
    last = max(c.last_seen for c in impact.clients)
    return last.strftime("%Y-%m-%d %H:00 UTC")


def _window(hours: int) -> str:
    return f"{hours // 24} days" if hours % 24 == 0 and hours >= 24 else f"{hours} hours"


def _label(impact: ChangeImpact) -> str:
    if impact.blocking:
        return "BREAKING "
    if impact.change.severity == "BREAKING":
        return "ACCEPTED "
    return "DANGEROUS"


def _impact_lines(impact: ChangeImpact, report: CheckReport) -> list[str]:
    lines = [f"{_label(impact)} {impact.change.kind}: {impact.change.description}"]
    pad = " " * 10
    if not report.usage_known:
        lines.append(f"{pad}usage unknown (no recorded usage to check against)")
        return lines
    if not impact.clients:
        lines.append(f"{pad}unused: no operation selected it in the last {_window(report.window_hours)}")
        return lines
    clients = len(impact.clients)
    lines.append(f"{pad}used by {clients} client{'s' if clients != 1 else ''} in {impact.operations} "
                 f"operation{'s' if impact.operations != 1 else ''}; last used {_when(impact)}")
    for c in impact.clients[:MAX_CLIENTS_SHOWN]:
        versions = f" ({', '.join(c.versions)})" if c.versions else ""
        ops = ", ".join(f"{name} x{n}" for name, n in c.by_operation[:5])
        more = f", +{len(c.by_operation) - 5} more" if len(c.by_operation) > 5 else ""
        lines.append(f"{pad}  {c.client}{versions}: {c.operations} operations ({ops}{more}); "
                     f"last {c.last_seen.strftime('%Y-%m-%d %H:00 UTC')}")
    if clients > MAX_CLIENTS_SHOWN:
        lines.append(f"{pad}  ... and {clients - MAX_CLIENTS_SHOWN} more clients")
    if impact.accepted and impact.change.severity == "BREAKING":
        lines.append(f"{pad}accepted: at most the threshold ({report.threshold.describe()})")
    return lines


def render_text(report: CheckReport) -> str:
    lines = [f"Schema check: {report.subject}"]
    if report.usage_known:
        lines.append(f"Usage: last {_window(report.window_hours)}, {report.total_operations} operations from "
                     f"{report.clients_seen} clients; breaking changes accepted up to "
                     f"{report.threshold.describe()}")
    else:
        lines.append("Usage: none recorded here (set HARMONIA_REDIS_URL to the gateways' Redis); "
                     "every breaking change counts as used")
    if report.ignored_clients:
        lines.append(f"Ignored clients: {', '.join(report.ignored_clients)}")
    lines.append("")
    if not report.impacts:
        lines.append("No changes.")
    for impact in report.impacts:
        lines.extend(_impact_lines(impact, report))
    blocking = sum(1 for i in report.impacts if i.blocking)
    lines.append("")
    if blocking:
        lines.append(f"Verdict: BREAKING, {blocking} breaking change{'s' if blocking != 1 else ''} would hurt "
                     f"clients (exit 1)")
    else:
        lines.append("Verdict: SAFE (exit 0)")
    return "\n".join(lines)


def render_json(report: CheckReport) -> dict[str, Any]:
    return {
        "subject": report.subject, "verdict": report.verdict, "windowHours": report.window_hours,
        "usageKnown": report.usage_known, "totalOperations": report.total_operations,
        "threshold": report.threshold.describe(), "ignoredClients": list(report.ignored_clients),
        "changes": [{
            "severity": i.change.severity, "kind": i.change.kind, "description": i.change.description,
            "coordinates": sorted(i.change.coordinates), "accepted": i.accepted, "blocking": i.blocking,
            "operations": i.operations,
            "clients": [{"client": c.client, "operations": c.operations, "versions": list(c.versions),
                         "lastSeen": c.last_seen.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "byOperation": [{"operation": n, "count": k} for n, k in c.by_operation]}
                        for c in i.clients],
        } for i in report.impacts],
    }
