"""Schema checks in GraphQL (admins only): the report ``harmonia schema check`` prints, as data and as text.

    { schemaCheck(proposedSchema: "type Query { ... }", window: "7d") { verdict text changes { kind description
        operations clients { client operations lastSeen operations { name count } } } } }
    { dryRunPolicy(changes: [...]) { check { verdict text } } }       # the same report for a policy change

Usage is what every gateway instance recorded (Redis) over the window; the threshold and ignored
clients are the configured ``schema_checks`` ones, so CI and this page agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError, build_schema
from strawberry.types import Info

from harmonia.checks.changes import Change, schema_changes
from harmonia.checks.proposal import ProposalError, parse_window
from harmonia.checks.render import render_text
from harmonia.checks.report import CheckReport, Threshold, check
from harmonia.errors import BadUserInput, Forbidden
from harmonia.observability.current import current
from harmonia.observability.usage import FieldUsage, UsageEntry
from harmonia.schema.access import context
from harmonia.schema.types import DateTime


@strawberry.type(description="How often one client ran one operation that a change affects.")
class OperationUse:
    name: str = strawberry.field(description="The operation's name, or (anonymous).")
    count: int = strawberry.field(description="Operations in the window.")


@strawberry.type(description="A client a change would hurt.")
class AffectedClient:
    client: str = strawberry.field(description="graphql-client-name, the client claim or the token subject.")
    operations: int = strawberry.field(description="Its affected operations in the window.")
    versions: list[str] = strawberry.field(description="Its graphql-client-version values seen.")
    last_seen: DateTime = strawberry.field(description="Start of the last hour it was affected.")
    by_operation: list[OperationUse] = strawberry.field(description="Per operation name, most first.")


@strawberry.type(description="One change and the usage it meets.")
class SchemaCheckChange:
    severity: str = strawberry.field(description="BREAKING or DANGEROUS.")
    kind: str = strawberry.field(description="e.g. FIELD_REMOVED, ARG_CHANGED_KIND, POLICY_DENIED, POLICY_MASKED.")
    description: str = strawberry.field(description="What changes, in words.")
    coordinates: list[str] = strawberry.field(description="The Type.field coordinates whose users it affects.")
    operations: int = strawberry.field(description="Affected operations in the window.")
    accepted: bool = strawberry.field(description="Breaking but at most the threshold (or not breaking).")
    blocking: bool = strawberry.field(description="Breaking and over the threshold: the check fails.")
    clients: list[AffectedClient] = strawberry.field(description="Who it would hurt, most operations first.")


@strawberry.type(description="A proposed schema or policy against the current one and the recorded usage.")
class SchemaCheckReport:
    verdict: str = strawberry.field(description="SAFE or BREAKING (harmonia schema check exits 0 or 1).")
    window_hours: int = strawberry.field(description="The usage window, in hours.")
    usage_known: bool = strawberry.field(description="False without Redis: every breaking change counts as used.")
    total_operations: int = strawberry.field(description="Operations recorded in the window.")
    threshold: str = strawberry.field(description="Breaking changes are accepted up to this.")
    changes: list[SchemaCheckChange] = strawberry.field(description="Blocking ones first.")
    text: str = strawberry.field(description="The report as `harmonia schema check` prints it.")


def report_view(report: CheckReport) -> SchemaCheckReport:
    return SchemaCheckReport(
        verdict=report.verdict, window_hours=report.window_hours, usage_known=report.usage_known,
        total_operations=report.total_operations, threshold=report.threshold.describe(), text=render_text(report),
        changes=[SchemaCheckChange(
            severity=i.change.severity, kind=i.change.kind, description=i.change.description,
            coordinates=sorted(i.change.coordinates), operations=i.operations, accepted=i.accepted,
            blocking=i.blocking, clients=[AffectedClient(
                client=c.client, operations=c.operations, versions=list(c.versions),
                last_seen=DateTime(c.last_seen.strftime("%Y-%m-%dT%H:%M:%SZ")),
                by_operation=[OperationUse(name=n, count=k) for n, k in c.by_operation]) for c in i.clients])
            for i in report.impacts])


def _usage() -> FieldUsage | None:
    record = current()
    return record.services.usage if record is not None and record.services is not None else None


@dataclass(frozen=True, slots=True)
class UsageWindow:
    hours: int
    entries: list[UsageEntry]
    known: bool      # False without Redis: one instance's counts say nothing of the others'


async def usage_window(info: Info[Any, Any], window: str | None) -> UsageWindow:
    """The recorded usage over the configured or given window; BAD_USER_INPUT for a bad window."""
    settings = context(info).settings
    try:
        hours = parse_window(window or settings.schema_checks.window)
    except ProposalError as exc:
        raise BadUserInput(str(exc), argument="window") from None
    usage = _usage()
    entries = await usage.entries(hours) if usage is not None else []
    return UsageWindow(hours, entries, usage is not None and settings.redis_url is not None)


def checked(info: Info[Any, Any], changes: list[Change], usage: UsageWindow, subject: str) -> SchemaCheckReport:
    settings = context(info).settings.schema_checks
    try:
        threshold = Threshold.parse(settings.threshold)
    except ValueError:
        threshold = Threshold()
    return report_view(check(changes, usage.entries, window_hours=usage.hours, threshold=threshold,
                             subject=subject, usage_known=usage.known, ignored_clients=settings.ignored_clients))


@strawberry.type
class ChecksQuery:
    @strawberry.field(description="Admins only: a proposed schema (SDL) against the running one and the recorded "
                                  "usage, as `harmonia schema check` reports it.")
    async def schema_check(
        self, info: Info[Any, Any],
        proposed_schema: Annotated[str, strawberry.argument(description="The proposed schema, as SDL.")],
        window: Annotated[str | None, strawberry.argument(description="Usage window, e.g. 7d or 24h.")] = None,
    ) -> SchemaCheckReport:
        if not context(info).access.is_admin:
            raise Forbidden("Only admins check schema changes")
        try:
            proposed = build_schema(proposed_schema)
        except (GraphQLError, TypeError) as exc:
            raise BadUserInput(f"Not a valid schema: {exc}", argument="proposedSchema") from None
        changes = schema_changes(info._raw_info.schema, proposed)
        return checked(info, changes, await usage_window(info, window), "proposed schema against the running schema")
