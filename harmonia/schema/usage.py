"""The ``fieldUsage`` query (admins only): which clients select which fields, and who still uses deprecated ones.

    { fieldUsage(hours: 24) { fields { coordinate client count lastSeen }
                              deprecated { coordinate reason count clients { client count lastSeen } } } }

Counts come from ``harmonia.observability.usage`` (Redis when configured, so every instance's
operations are in them); each operation counts each field it selects once.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from harmonia.errors import BadUserInput, Forbidden
from harmonia.observability.current import current
from harmonia.observability.usage import UsageRow, deprecated_fields
from harmonia.schema.access import context
from harmonia.schema.types import DateTime

MAX_HOURS = 24 * 90


def _time(value: Any) -> DateTime:
    return DateTime(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


@strawberry.type(description="Uses of a field in one hour.")
class UsageCount:
    hour: DateTime = strawberry.field(description="Start of the hour (UTC).")
    count: int = strawberry.field(description="Operations that selected the field in that hour.")


@strawberry.type(description="How often one client selected one field in the window.")
class FieldUsage:
    coordinate: str = strawberry.field(description='The schema coordinate, e.g. "Customer.email".')
    type_name: str = strawberry.field(description="The type, e.g. Customer.")
    field_name: str = strawberry.field(description="The field, e.g. email.")
    client: str = strawberry.field(description="The client: the graphql-client-name header, else the token's client "
                                               "claim, else its subject (hashed when it is an email).")
    count: int = strawberry.field(description="Operations that selected the field (once per operation).")
    first_seen: DateTime = strawberry.field(description="Start of the first hour with a use in the window.")
    last_seen: DateTime = strawberry.field(description="Start of the last hour with a use in the window.")
    by_hour: list[UsageCount] = strawberry.field(description="The uses hour by hour, oldest first.")

    @staticmethod
    def of(row: UsageRow) -> FieldUsage:
        type_name, _, field_name = row.coordinate.partition(".")
        return FieldUsage(coordinate=row.coordinate, type_name=type_name, field_name=field_name, client=row.client,
                          count=row.count, first_seen=_time(row.first_seen), last_seen=_time(row.last_seen),
                          by_hour=[UsageCount(hour=_time(h), count=n) for h, n in row.by_hour])


@strawberry.type(description="A client still selecting a deprecated field.")
class ClientUsage:
    client: str = strawberry.field(description="The client (graphql-client-name, client claim or token subject).")
    count: int = strawberry.field(description="Operations in the window.")
    last_seen: DateTime = strawberry.field(description="Start of the last hour with a use.")
    last_used_day: str = strawberry.field(description="The day (UTC, YYYY-MM-DD) it last used the field.")


@strawberry.type(description="A field marked @deprecated, and who still selects it: retire it once nobody does.")
class DeprecatedFieldUsage:
    coordinate: str = strawberry.field(description='The schema coordinate, e.g. "Customer.legacyId".')
    reason: str = strawberry.field(description="The deprecation reason.")
    count: int = strawberry.field(description="Operations in the window that still selected it.")
    clients: list[ClientUsage] = strawberry.field(description="The clients that did, most uses first.")
    last_used_day: str | None = strawberry.field(description="The day (UTC) anyone last used it; null: unused "
                                                             "in the window, safe to remove.")


@strawberry.type(description="Field usage over the last hours.")
class FieldUsageReport:
    hours: int = strawberry.field(description="The window, in hours up to now (the current hour included).")
    fields: list[FieldUsage] = strawberry.field(description="Per field and client, by coordinate.")
    deprecated: list[DeprecatedFieldUsage] = strawberry.field(description="Every deprecated field, used or not.")


@strawberry.type
class UsageQuery:
    @strawberry.field(description="Which clients selected which fields over the last hours, and who still uses the "
                                  "deprecated ones. Admins only.")
    async def field_usage(
        self,
        info: Info[Any, Any],
        hours: Annotated[int, strawberry.argument(description=f"Window in hours, 1..{MAX_HOURS}.")] = 168,
        client: Annotated[str | None, strawberry.argument(description="Only this client.")] = None,
        type: Annotated[str | None, strawberry.argument(description="Only fields of this type.")] = None,
    ) -> FieldUsageReport:
        ctx = context(info)
        # The access plan already keeps everyone but the policy's admins out (an admin-plane field);
        # checked again here for code that runs the resolver some other way.
        if not ctx.access.is_admin:
            raise Forbidden("Only admins may read field usage", requiredRoles=sorted(ctx.policy.admins))
        if not 1 <= hours <= MAX_HOURS:
            raise BadUserInput(f"`hours` must be between 1 and {MAX_HOURS}", argument="hours")
        record = current()
        usage = record.services.usage if record is not None and record.services is not None else None
        if usage is None:
            raise BadUserInput("Field usage is not recorded (observability.field_usage is off)")
        rows = await usage.report(hours, client=client)
        if type is not None:
            rows = [r for r in rows if r.coordinate.partition(".")[0] == type]
        deprecated = []
        for coordinate, reason in deprecated_fields(info._raw_info.schema):
            users = sorted((r for r in rows if r.coordinate == coordinate), key=lambda r: (-r.count, r.client))
            deprecated.append(DeprecatedFieldUsage(
                coordinate=coordinate, reason=reason, count=sum(r.count for r in users),
                clients=[ClientUsage(client=r.client, count=r.count, last_seen=_time(r.last_seen),
                                     last_used_day=r.last_seen.strftime("%Y-%m-%d")) for r in users],
                last_used_day=max(r.last_seen for r in users).strftime("%Y-%m-%d") if users else None))
        return FieldUsageReport(hours=hours, fields=[FieldUsage.of(r) for r in rows], deprecated=deprecated)
