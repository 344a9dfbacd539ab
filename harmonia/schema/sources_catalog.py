"""The catalogue of sources in GraphQL (admins only): what /admin/sources shows, as data.

    { sources(step: 60) { sources { name vendor apiVersion circuit quota { description headroom }
        callsPerMinute latencyP50Ms latencyP99Ms errorRate cacheHitRatio series { at calls p99Ms } }
      anomalies { source kind state at message }
      fields { typeName fieldName sources endpoint cacheTtlSeconds costWeight readers { role access } } } }

Figures are this gateway process's (calls, latency, errors over the last hour, from
``observability.source_series``); circuit state is every instance's when Redis is shared.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLObjectType, get_named_type, is_leaf_type
from strawberry.types import Info

from harmonia.errors import BadUserInput, Forbidden
from harmonia.observability.current import current
from harmonia.observability.metrics import metrics
from harmonia.observability.source_series import Point, source_series
from harmonia.resolvers.feeds import feed_of
from harmonia.schema.access import context
from harmonia.schema.admin import AccessLevel, RoleAccessView
from harmonia.schema.types import DateTime
from harmonia.sources.describe import SourceDescription


def _iso(epoch: float) -> DateTime:
    return DateTime(datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 2) if seconds is not None else None


@strawberry.type(description="A source quota and what is left of it.")
class QuotaStatus:
    name: str = strawberry.field(description="requests_per_window, cost_points, requests_per_second, "
                                             "concurrent_requests.")
    description: str = strawberry.field(description="The quota in words.")
    limit: float = strawberry.field(description="Units per period (or at once).")
    unit: str = strawberry.field(description="requests, cost points, or concurrent requests.")
    period_seconds: float | None = strawberry.field(description="The quota's period; null for a concurrency cap.")
    allowance_per_second: float | None = strawberry.field(description="Sustainable units per second.")
    headroom: float | None = strawberry.field(description="Share left now, 0..1; null: not known.")


@strawberry.type(description="One step of a source's last hour.")
class SourcePoint:
    at: DateTime = strawberry.field(description="Start of the step.")
    calls: int = strawberry.field(description="Calls answered (or failed) in the step.")
    errors: int = strawberry.field(description="Of which 5xx, 429, timeouts or dropped connections.")
    p50_ms: float | None = strawberry.field(description="Median latency, ms (null: no call).")
    p99_ms: float | None = strawberry.field(description="99th percentile latency, ms (null: no call).")


@strawberry.type(description="An anomaly the detector opened or resolved.")
class AnomalyView:
    source: str = strawberry.field(description="The source.")
    kind: str = strawberry.field(description="latency, errors or quota.")
    state: str = strawberry.field(description="OPEN or RESOLVED.")
    at: DateTime = strawberry.field(description="When.")
    message: str = strawberry.field(description="What was seen against the source's usual.")


@strawberry.type(description="One source: what it is, how it is reached, and how it does.")
class SourceView:
    name: str = strawberry.field(description="hubspot, shopify, mailchimp, ga4, googleads.")
    vendor: str = strawberry.field(description="The vendor's API.")
    base_url: str = strawberry.field(description="Where it is called (no credentials).")
    api_version: str = strawberry.field(description="The API version called, or unknown.")
    end_of_support: str = strawberry.field(description="When the vendor stops supporting it, or unknown.")
    credential_kind: str = strawberry.field(description="Static token, OAuth refresh token, ..., or unknown.")
    credential_expires: str = strawberry.field(description="When the current credential expires, or unknown.")
    scopes: list[str] = strawberry.field(description="The credential's scopes, when known.")
    quota: QuotaStatus | None = strawberry.field(description="The quota Harmonia paces itself under.")
    circuit: str = strawberry.field(description="closed, open (calls refused for a while) or half_open.")
    calls_per_minute: float = strawberry.field(description="Over the last 5 minutes.")
    latency_p50_ms: float | None = strawberry.field(description="Over the last hour.")
    latency_p99_ms: float | None = strawberry.field(description="Over the last hour.")
    error_rate: float = strawberry.field(description="Share of calls failed over the last hour, 0..1.")
    cache_hit_ratio: float | None = strawberry.field(description="Entity cache lookups answered without the "
                                                                 "source, since start; null: none yet.")
    series: list[SourcePoint] = strawberry.field(description="The last hour, one point per step, oldest first.")
    anomalies: list[AnomalyView] = strawberry.field(description="Anomalies open now.")


@strawberry.type(description="Which source feeds a field, how long it is cached, what it costs, who reads it.")
class FieldFeed:
    type_name: str = strawberry.field(description="The type.")
    field_name: str = strawberry.field(description="The field.")
    sources: list[str] = strawberry.field(description="The sources that feed it (empty: computed by Harmonia).")
    endpoint: str | None = strawberry.field(description="The API resource, in the vendor's words.")
    cache_ttl_seconds: float | None = strawberry.field(description="Fresh this long in the entity cache.")
    cost_weight: int = strawberry.field(description="Its points in the cost model.")
    readers: list[RoleAccessView] = strawberry.field(description="Each role: READ (clear), MASKED or DENIED.")


@strawberry.type(description="The catalogue: every source, recent anomalies, and what feeds each field.")
class SourceCatalog:
    sources: list[SourceView] = strawberry.field(description="Every source.")
    anomalies: list[AnomalyView] = strawberry.field(description="Recent anomalies, newest first.")
    fields: list[FieldFeed] = strawberry.field(description="Every Type.field of the schema's object types.")


def _cache_hit_ratio(source: str) -> float | None:
    counts = metrics().cache_lookups.counts
    mine = {(tier, outcome): n for (s, tier, outcome), n in list(counts.items()) if s == source}
    hits = sum(n for (_, outcome), n in mine.items() if outcome in ("hit", "stale"))
    deepest = "redis" if any(tier == "redis" for tier, _ in mine) else "memory"
    misses = mine.get((deepest, "miss"), 0)
    return round(hits / (hits + misses), 4) if hits + misses else None


def _point(p: Point) -> SourcePoint:
    return SourcePoint(at=_iso(p.at), calls=p.calls, errors=p.errors, p50_ms=_ms(p.p50), p99_ms=_ms(p.p99))


def _anomaly(e: Any) -> AnomalyView:
    return AnomalyView(source=e.source, kind=e.kind, state=e.state, at=_iso(e.at), message=e.message)


def _source_view(d: SourceDescription, step: int, open_anomalies: list[Any]) -> SourceView:
    series = source_series()
    hour = series.window(d.name, 3600)
    recent = series.window(d.name, 300)
    q = d.quota
    return SourceView(
        name=d.name, vendor=d.vendor, base_url=d.base_url, api_version=d.api_version, end_of_support=d.end_of_support,
        credential_kind=d.credential_kind, credential_expires=d.credential_expires, scopes=list(d.scopes),
        quota=QuotaStatus(name=q.name, description=q.description, limit=q.limit, unit=q.unit,
                          period_seconds=q.period_seconds, allowance_per_second=q.allowance_per_second,
                          headroom=round(q.headroom, 4) if q.headroom is not None else None) if q else None,
        circuit=d.circuit, calls_per_minute=round(recent.calls / 5, 2), latency_p50_ms=_ms(hour.p50),
        latency_p99_ms=_ms(hour.p99), error_rate=round(hour.error_ratio, 4), cache_hit_ratio=_cache_hit_ratio(d.name),
        series=[_point(p) for p in series.points(d.name, step=step)],
        anomalies=[_anomaly(e) for e in open_anomalies if e.source == d.name])


def _fields(info: Info[Any, Any]) -> list[FieldFeed]:
    ctx = context(info)
    settings = ctx.settings
    admin = ctx.admin
    readers = {(v.type_name, v.field_name): v.readers for v in admin.field_policies()} if admin else {}
    schema = info._raw_info.schema
    found = []
    for type_name in sorted({t for t, _ in readers}):
        named = schema.type_map.get(type_name)
        if not isinstance(named, GraphQLObjectType):
            continue
        for field_name, definition in named.fields.items():
            if (type_name, field_name) not in readers:
                continue
            feed = feed_of(type_name, field_name)
            policy = getattr(settings.cache, feed.cache, None) if feed and feed.cache else None
            weight = settings.limits.field_weights.get(
                f"{type_name}.{field_name}", 0 if is_leaf_type(get_named_type(definition.type)) else 1)
            found.append(FieldFeed(
                type_name=type_name, field_name=field_name, sources=list(feed.sources) if feed else [],
                endpoint=feed.endpoint if feed else None, cache_ttl_seconds=policy.ttl if policy else None,
                cost_weight=weight, readers=[RoleAccessView(role=r.role, access=AccessLevel(r.access))
                                             for r in readers[(type_name, field_name)]]))
    return found


@strawberry.type
class SourcesQuery:
    @strawberry.field(description="Admins only: every source (version, credentials, quota and headroom, circuit, "
                                  "calls, latency, errors and cache over the last hour), recent anomalies, and "
                                  "which source feeds each field. What /admin/sources shows.")
    async def sources(
        self, info: Info[Any, Any],
        step: Annotated[int, strawberry.argument(description="Seconds per point of `series` (5..3600).")] = 60,
    ) -> SourceCatalog:
        if not context(info).access.is_admin:
            raise Forbidden("Only admins read the catalogue of sources")
        if not 5 <= step <= 3600:
            raise BadUserInput("`step` must be between 5 and 3600", argument="step")
        record = current()
        watch = record.services.sources_watch if record is not None and record.services is not None else None
        if watch is None:
            raise BadUserInput("The catalogue of sources is not available in this process")
        descriptions = await watch.descriptions()
        opened = list(watch.detector.open.values())
        return SourceCatalog(sources=[_source_view(d, step, opened) for d in descriptions],
                             anomalies=[_anomaly(e) for e in watch.detector.events()[:50]], fields=_fields(info))


# Output types only the admins' `sources` field leads to: not rows of the policy matrix.
CATALOG_TYPES = frozenset({"QuotaStatus", "SourcePoint", "AnomalyView", "SourceView", "FieldFeed", "SourceCatalog"})
