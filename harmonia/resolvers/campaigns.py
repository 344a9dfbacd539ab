"""Campaigns: Mailchimp (EMAIL), Google Ads (SEARCH), then declared ads platforms (SOCIAL, ...), in one connection.

    page = await list_campaigns(ctx, first=20, after=None)
    stats = await campaign_stats(ctx, page.edges[0].node, None)

The connection is ordered Mailchimp first (by creation time), then Google Ads (by id), then each
declared ads platform in the order its list endpoint gives (``harmonia.resolvers.declared``). A cursor
holds the position in that sequence and the Mailchimp total it was computed with, so a page
that lies wholly in the Google Ads part never calls Mailchimp.
"""

from __future__ import annotations

import asyncio
from datetime import date

from harmonia.errors import BadUserInput
from harmonia.resolvers.cached import ADS_CAMPAIGN_LIST, MAILCHIMP_CAMPAIGN_PAGE, cached_call
from harmonia.resolvers.context import RequestContext
from harmonia.resolvers.declared import declared_campaign, declared_campaigns, declared_stats
from harmonia.resolvers.ids import decode_cursor, encode_cursor
from harmonia.resolvers.paging import Edge, Slice, check_first
from harmonia.resolvers.records import AnalyticsSummaryRecord, CampaignRecord, CampaignStatsRecord, DateRange
from harmonia.sources.normalize import micros_to_money
from harmonia.sources.records import AdsCampaign, MailchimpCampaign, MailchimpReport, Page

SOURCES = ("mailchimp", "googleads")


# Email stats the campaign's own report_summary cannot give; only these need the report call.
REPORT_ONLY_STATS = frozenset({"uniqueClicks", "unsubscribed"})


def from_mailchimp(c: MailchimpCampaign) -> CampaignRecord:
    return CampaignRecord("mailchimp", c.id, c.title, "EMAIL", c.status, c.send_time, c.emails_sent, c.summary)


def from_ads(c: AdsCampaign) -> CampaignRecord:
    return CampaignRecord("googleads", c.id, c.name, "SEARCH", c.status)


async def _mailchimp_page(ctx: RequestContext, count: int, offset: int) -> Page[MailchimpCampaign]:
    assert ctx.cache is not None
    return await cached_call(ctx.cache, MAILCHIMP_CAMPAIGN_PAGE, (count, offset),
                             lambda key: ctx.sources.mailchimp.list_campaigns(*key))


async def _ads_campaigns(ctx: RequestContext) -> list[AdsCampaign]:
    assert ctx.cache is not None
    return await cached_call(ctx.cache, ADS_CAMPAIGN_LIST, "all", lambda _: ctx.sources.googleads.list_campaigns())


def _cursor(offset: int, mailchimp_total: int) -> str:
    return encode_cursor({"k": "campaigns", "o": offset, "t": mailchimp_total})


async def _after_mailchimp(ctx: RequestContext) -> list[CampaignRecord]:
    """Google Ads' campaigns, then every declared ads platform's (each list cached whole)."""
    assert ctx.cache is not None
    ads, declared = await asyncio.gather(_ads_campaigns(ctx), declared_campaigns(ctx.sources.declared, ctx.cache))
    return [*(from_ads(c) for c in ads), *declared]


async def list_campaigns(ctx: RequestContext, first: int, after: str | None) -> Slice[CampaignRecord]:
    check_first(first, ctx.settings.limits.max_page_size)
    data = decode_cursor(after)
    if data and (data.get("k") != "campaigns" or not isinstance(data.get("o"), int)
                 or not isinstance(data.get("t"), int) or data["o"] < 0):
        raise BadUserInput("This cursor does not belong to a campaigns connection")
    offset: int = data.get("o", 0)
    known_total: int | None = data.get("t")
    if first == 0:
        return Slice([], has_next_page=False)
    records: list[CampaignRecord] = []
    if known_total is None or offset < known_total:
        page = await _mailchimp_page(ctx, first, offset)
        records.extend(from_mailchimp(c) for c in page.items)
        known_total = page.total if page.total is not None else offset + len(page.items)
    assert known_total is not None
    ads_total: int | None = None
    if len(records) < first:
        rest = await _after_mailchimp(ctx)
        ads_total = len(rest)
        start = max(0, offset + len(records) - known_total)
        records.extend(rest[start:start + first - len(records)])
    edges = [Edge(_cursor(offset + i + 1, known_total), record) for i, record in enumerate(records)]
    end = offset + len(records)
    if ads_total is None:
        has_next = True  # the page ended inside Mailchimp's part; Google Ads campaigns follow
        total = None
    else:
        total = known_total + ads_total
        has_next = end < total
    return Slice(edges, has_next_page=has_next, total=total)


async def campaign_by_id(ctx: RequestContext, local_id: str) -> CampaignRecord | None:
    source, _, campaign_id = local_id.partition(":")
    if source == "mailchimp":
        mc: MailchimpCampaign | None = await ctx.loaders.mailchimp_campaign.load(campaign_id)
        return from_mailchimp(mc) if mc else None
    if source == "googleads" and campaign_id.isdigit():
        ad: AdsCampaign | None = await ctx.loaders.ads_campaign.load(campaign_id)
        return from_ads(ad) if ad else None
    return await declared_campaign(ctx, source, campaign_id)


def parse_date_range(start_date: str, end_date: str) -> DateRange:
    try:
        start, end = date.fromisoformat(start_date), date.fromisoformat(end_date)
    except ValueError:
        raise BadUserInput("Dates must be YYYY-MM-DD", argument="dateRange") from None
    if len(start_date) != 10 or len(end_date) != 10:
        raise BadUserInput("Dates must be YYYY-MM-DD", argument="dateRange")
    if start > end:
        raise BadUserInput("`startDate` must not be after `endDate`", argument="dateRange")
    return DateRange(start.isoformat(), end.isoformat())


def _email_stats(report: MailchimpReport) -> CampaignStatsRecord:
    return CampaignStatsRecord(
        clicks=report.clicks_total, emails_sent=report.emails_sent, opens=report.opens_total,
        unique_opens=report.unique_opens, open_rate=report.open_rate, unique_clicks=report.unique_clicks,
        click_rate=report.click_rate, unsubscribed=report.unsubscribed,
    )


async def campaign_stats(
    ctx: RequestContext, campaign: CampaignRecord, date_range: DateRange | None, selected: frozenset[str]
) -> CampaignStatsRecord | None:
    """``selected``: the CampaignStats fields asked for; the report is fetched only when needed."""
    if campaign.source == "mailchimp":
        if date_range is not None and not _sent_within(campaign.send_time, date_range):
            return CampaignStatsRecord(clicks=0, emails_sent=0, opens=0, unique_opens=0, unique_clicks=0,
                                       unsubscribed=0)
        summary = campaign.summary
        if summary is not None and not selected & REPORT_ONLY_STATS:
            return CampaignStatsRecord(
                clicks=summary.clicks, emails_sent=campaign.emails_sent, opens=summary.opens,
                unique_opens=summary.unique_opens, open_rate=summary.open_rate, click_rate=summary.click_rate,
            )
        report = await ctx.loaders.report_for(campaign.id)
        return _email_stats(report) if report else None
    if campaign.source != "googleads":
        return await declared_stats(ctx, campaign, date_range)
    metrics = await ctx.loaders.ads_metrics.load((campaign.id, date_range))
    currency = ctx.settings.sources.googleads.currency_code
    if metrics is None:
        return CampaignStatsRecord(clicks=0, impressions=0, cost=micros_to_money(0, currency), conversions=0.0)
    return CampaignStatsRecord(
        clicks=metrics.clicks, impressions=metrics.impressions, cost=micros_to_money(metrics.cost_micros, currency),
        conversions=metrics.conversions,
        ctr=round(metrics.clicks / metrics.impressions, 6) if metrics.impressions else None,
    )


def _sent_within(send_time: str | None, date_range: DateRange) -> bool:
    # A Mailchimp report covers one send: it belongs to a range when the send does.
    return bool(send_time) and date_range.start_date <= (send_time or "")[:10] <= date_range.end_date


async def campaign_analytics(
    ctx: RequestContext, campaign: CampaignRecord, date_range: DateRange
) -> AnalyticsSummaryRecord | None:
    summary: AnalyticsSummaryRecord | None = await ctx.loaders.campaign_analytics.load((campaign.name, date_range))
    return summary


async def campaign_totals(ctx: RequestContext) -> int:
    mailchimp, rest = await asyncio.gather(_mailchimp_page(ctx, 1, 0), _after_mailchimp(ctx))
    return (mailchimp.total or 0) + len(rest)
