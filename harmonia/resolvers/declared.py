"""Declared sources as the resolvers see them: batched, cached lookups and campaigns in the unified shape.

    profile = await declared_record(ctx, "klaviyo", "KlaviyoProfile", "ada@example.com")   # batched
    records = await declared_campaigns(ctx)          # [CampaignRecord] of every declared ads platform
    stats = await declared_stats(ctx, campaign, date_range)

Lookups by key go through one per-request DataLoader per (source, type), so every key asked for in one
tick becomes one call per ``max_batch`` keys; both cache tiers sit in front of it with the
declaration's own TTLs. Keys carry the source's account digest, as the built-in sources' do.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from harmonia.cache.entity import EntityCache, Kind
from harmonia.resolvers.cached import CachedLoader, cached_call
from harmonia.resolvers.records import CampaignRecord, CampaignStatsRecord, DateRange
from harmonia.settings import CachePolicy
from harmonia.sources.declared.connector import DeclaredAPI
from harmonia.sources.declared.model import CampaignsExtension
from harmonia.sources.declared.records import DeclaredRecord
from harmonia.sources.declared.registry import DeclaredSources
from harmonia.sources.declared.templates import render
from harmonia.sources.records import Money

if TYPE_CHECKING:
    from harmonia.resolvers.context import RequestContext

StatsKey = tuple[str, DateRange | None]


def kind(api: DeclaredAPI, type_name: str, entity: str, group: str, by_id: bool = True) -> Kind:
    decl = api.declaration.types[type_name].cache
    return Kind(api.name, f"{type_name}-{entity}", "campaigns", group, by_id=by_id,
                own_policy=CachePolicy(ttl=decl.ttl, stale_while_revalidate=decl.stale_while_revalidate,
                                       stale_if_error=decl.stale_if_error))


class DeclaredLoaders:
    """Per request: one loader per declared (source, type) looked up by key, and per stats type."""

    def __init__(self, cache: EntityCache) -> None:
        self.cache = cache
        self._by_key: dict[tuple[str, str], CachedLoader[str, DeclaredRecord | None]] = {}
        self._stats: dict[str, CachedLoader[StatsKey, DeclaredRecord | None]] = {}

    def by_key(self, api: DeclaredAPI, type_name: str, group: str) -> CachedLoader[str, DeclaredRecord | None]:
        loader = self._by_key.get((api.name, type_name))
        if loader is None:
            async def fetch(keys: list[str]) -> dict[str, DeclaredRecord]:
                return await api.batch(type_name, keys)

            loader = self._by_key[(api.name, type_name)] = CachedLoader(
                self.cache, kind(api, type_name, "by-key", group), fetch)
        return loader

    def stats(self, api: DeclaredAPI, ext: CampaignsExtension) -> CachedLoader[StatsKey, DeclaredRecord | None]:
        assert ext.stats is not None
        stats = ext.stats
        loader = self._stats.get(api.name)
        if loader is None:
            async def fetch(keys: list[StatsKey]) -> dict[StatsKey, DeclaredRecord]:
                """One batch per distinct date range (split at the API's maximum by the connector)."""
                groups: dict[DateRange | None, list[str]] = defaultdict(list)
                for campaign_id, date_range in keys:
                    groups[date_range].append(campaign_id)

                async def one(date_range: DateRange | None, ids: list[str]) -> dict[str, DeclaredRecord]:
                    if date_range is None:
                        return await api.batch(stats.type, ids, stats.lifetime_params)
                    return await api.batch(stats.type, ids, stats.range_params, start=date_range.start_date,
                                           end=date_range.end_date)

                ranges = list(groups)
                found = await asyncio.gather(*(one(r, groups[r]) for r in ranges))
                by_range = dict(zip(ranges, found, strict=True))
                return {(cid, r): by_range[r][cid] for cid, r in keys if cid in by_range[r]}

            loader = self._stats[api.name] = CachedLoader(
                self.cache, kind(api, stats.type, "stats", "Campaign", by_id=False), fetch)
        return loader


async def declared_record(ctx: RequestContext, source: str, type_name: str, key: str | None,
                          group: str = "Customer") -> DeclaredRecord | None:
    api = ctx.sources.declared.apis.get(source)
    if api is None or not key:
        return None
    record: DeclaredRecord | None = await ctx.loaders.declared.by_key(api, type_name, group).load(key)
    return record


def campaign_of(api: DeclaredAPI, ext: CampaignsExtension, record: DeclaredRecord) -> CampaignRecord:
    values = record.fields
    status = values.get(ext.status) if ext.status else None
    return CampaignRecord(api.name, str(values.get(ext.id)), str(values.get(ext.name) or ""), ext.channel,
                          str(status) if status is not None else None)


async def campaigns_of(cache: EntityCache, api: DeclaredAPI, ext: CampaignsExtension) -> list[CampaignRecord]:
    records: list[DeclaredRecord] = await cached_call(
        cache, kind(api, ext.type, "list", "Campaign", by_id=False), "all", lambda _: api.list_all(ext.type))
    return [campaign_of(api, ext, r) for r in records]


async def declared_campaigns(declared: DeclaredSources, cache: EntityCache) -> list[CampaignRecord]:
    """Every declared ads platform's campaigns, in declaration order (each list cached whole)."""
    lists = await asyncio.gather(*(campaigns_of(cache, api, ext) for api, ext in declared.campaign_lists))
    return [record for records in lists for record in records]


async def declared_campaign(ctx: RequestContext, source: str, campaign_id: str) -> CampaignRecord | None:
    found = ctx.sources.declared.campaigns_of(source)
    if found is None:
        return None
    api, ext = found
    assert ctx.cache is not None
    return next((c for c in await campaigns_of(ctx.cache, api, ext) if c.id == campaign_id), None)


async def declared_stats(ctx: RequestContext, campaign: CampaignRecord,
                         date_range: DateRange | None) -> CampaignStatsRecord | None:
    found = ctx.sources.declared.campaigns_of(campaign.source)
    if found is None or found[1].stats is None:
        return None
    api, ext = found
    assert ext.stats is not None
    record: DeclaredRecord | None = await ctx.loaders.declared.stats(api, ext).load((campaign.id, date_range))
    names = ext.stats.fields
    values: dict[str, Any] = record.fields if record is not None else {}

    def number(stat: str) -> Any:
        name = names.get(stat)  # type: ignore[call-overload]
        return values.get(name) if name else None

    clicks, impressions, cost, conversions = (number("clicks"), number("impressions"), number("cost"),
                                              number("conversions"))
    if record is None:  # no delivery in the period: the API has no row, which means zero
        clicks, impressions, conversions = 0, 0, 0.0
        cost = Money("0.00", _currency(api, ext))
    return CampaignStatsRecord(
        clicks=clicks if isinstance(clicks, int) else None,
        impressions=impressions if isinstance(impressions, int) else None,
        cost=cost if isinstance(cost, Money) else None,
        conversions=float(conversions) if isinstance(conversions, int | float) else None,
        ctr=round(clicks / impressions, 6) if isinstance(clicks, int) and isinstance(impressions, int)
        and impressions else None)


def _currency(api: DeclaredAPI, ext: CampaignsExtension) -> str:
    assert ext.stats is not None
    field = api.declaration.types[ext.stats.type].fields.get(ext.stats.fields.get("cost", ""))
    if field is None or field.currency is None:
        return "USD"
    return render(field.currency, api.values, api.declaration.version).upper()
