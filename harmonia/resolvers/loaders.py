"""Per-request batch loaders: N sibling lookups become the fewest upstream requests the API allows.

    contact = await ctx.loaders.contact_by_email.load("ada@example.com")

Built once per operation (``RequestContext.loaders``), never at module level, so their
caches die with the request. Each loader dedupes its keys, so no key is asked for twice in one
operation; batch endpoints (HubSpot ``batch/read``, Shopify ``nodes(ids:)``, one GA4 report with an
``inListFilter``, one Google Ads stream) are split at each API's maximum by the connectors.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from harmonia.cache.entity import EntityCache, Hit
from harmonia.resolvers.cached import (
    ADS_CAMPAIGN,
    ADS_CAMPAIGN_LIST,
    ADS_METRICS,
    CONTACT,
    CONTACT_BY_EMAIL,
    CUSTOMER_ORDERS,
    GA4_REPORT,
    MAILCHIMP_ALL_CAMPAIGNS,
    MAILCHIMP_CAMPAIGN,
    MAILCHIMP_REPORT,
    MEMBER,
    ORDER,
    ORDER_ATTRIBUTION,
    ORDER_LINE_ITEMS,
    SHOPIFY_CUSTOMER,
    SHOPIFY_CUSTOMER_BY_EMAIL,
    CachedLoader,
    HitLoader,
    each,
    ident,
    note,
)
from harmonia.resolvers.records import AnalyticsSummaryRecord, CampaignRecord, DateRange
from harmonia.sources.normalize import normalize_money
from harmonia.sources.records import (
    AdsCampaign,
    AdsMetrics,
    Contact,
    MailchimpCampaign,
    MailchimpMember,
    MailchimpReport,
    OrderAttribution,
    OrderLineItems,
    Page,
    Report,
    ReportRequest,
    ShopifyCustomer,
    ShopifyOrder,
)

if TYPE_CHECKING:
    from harmonia.resolvers.context import Sources

SUMMARY_METRICS = ("sessions", "totalUsers", "newUsers", "conversions", "totalRevenue", "engagementRate")
OrdersPageKey = tuple[str, int, str | None]  # (CustomerRef: "id:..." or "email:...", limit, Shopify's cursor)
CampaignTable = tuple[dict[str, CampaignRecord], dict[str, Hit[Any]]]  # by name; the lookups by source


class Loaders:
    def __init__(self, sources: Sources, cache: EntityCache) -> None:
        self.sources = sources
        self.cache = cache
        s = sources
        self.contact_by_id: CachedLoader[str, Contact | None] = CachedLoader(cache, CONTACT, s.hubspot.batch_read)
        self.contact_by_email: CachedLoader[str, Contact | None] = CachedLoader(
            cache, CONTACT_BY_EMAIL, s.hubspot.batch_read_by_email)
        self.shopify_customer_by_id: CachedLoader[str, ShopifyCustomer | None] = CachedLoader(
            cache, SHOPIFY_CUSTOMER, s.shopify.get_customers)
        self.shopify_customer_by_email: CachedLoader[str, ShopifyCustomer | None] = CachedLoader(
            cache, SHOPIFY_CUSTOMER_BY_EMAIL, s.shopify.find_customers_by_email)
        self.order_by_id: CachedLoader[str, ShopifyOrder | None] = CachedLoader(cache, ORDER, s.shopify.get_orders)
        # Every customer's page of orders asked for in one tick: one Shopify document (or a few, by cost).
        self.customer_orders: CachedLoader[OrdersPageKey, Page[ShopifyOrder]] = CachedLoader(
            cache, CUSTOMER_ORDERS, s.shopify.orders_of_customers)
        self.order_attribution: CachedLoader[str, OrderAttribution | None] = CachedLoader(
            cache, ORDER_ATTRIBUTION, s.shopify.order_attribution)
        self.order_line_items: CachedLoader[str, OrderLineItems | None] = CachedLoader(
            cache, ORDER_LINE_ITEMS, s.shopify.order_line_items)
        self.member_by_email: CachedLoader[str, MailchimpMember | None] = CachedLoader(
            cache, MEMBER, s.mailchimp.get_members)
        self.mailchimp_campaign: CachedLoader[str, MailchimpCampaign | None] = CachedLoader(
            cache, MAILCHIMP_CAMPAIGN, each(s.mailchimp.get_campaign))
        self.mailchimp_report: CachedLoader[str, MailchimpReport | None] = CachedLoader(
            cache, MAILCHIMP_REPORT, s.mailchimp.get_reports)
        self.ads_campaign: CachedLoader[str, AdsCampaign | None] = CachedLoader(
            cache, ADS_CAMPAIGN, s.googleads.get_campaigns)
        self.ads_metrics: CachedLoader[tuple[str, DateRange | None], AdsMetrics | None] = CachedLoader(
            cache, ADS_METRICS, self._ads_metrics)
        self.campaign_analytics: HitLoader[tuple[str, DateRange], AnalyticsSummaryRecord | None] = HitLoader(
            self._campaign_analytics)
        self.campaign_by_name: HitLoader[str, CampaignRecord | None] = HitLoader(self._campaigns_by_name)
        self._all_campaigns: asyncio.Task[CampaignTable] | None = None

    def forget(self, source: str, entity: str, key: str) -> None:
        """Drop what a write changed, so the next load in this request asks the source again."""
        if (source, entity) == ("hubspot", "contact"):
            self.contact_by_id.clear(key)
            self.contact_by_email.clear_all()  # keyed by email, and the email may be what changed
        elif (source, entity) == ("shopify", "customer"):
            self.shopify_customer_by_id.clear(key)
            self.shopify_customer_by_email.clear_all()
        elif (source, entity) == ("mailchimp", "member"):
            self.member_by_email.clear(key)
        elif (source, entity) == ("mailchimp", "campaign"):
            self.mailchimp_campaign.clear(key)
            self._all_campaigns = None
        elif (source, entity) == ("googleads", "campaign"):
            self.ads_campaign.clear(key)
            self._all_campaigns = None

    async def contact(self, contact_id: str) -> Contact | None:
        contact: Contact | None = await self.contact_by_id.load(contact_id)
        return None if contact is None or contact.archived else contact

    async def shopify_customer_for(self, contact: Contact) -> ShopifyCustomer | None:
        """The contact's Shopify customer: named by ``shopify_customer_id``, else the same email."""
        if contact.shopify_customer_id:
            linked: ShopifyCustomer | None = await self.shopify_customer_by_id.load(contact.shopify_customer_id)
            if linked is not None:
                return linked
        if contact.email:
            found: ShopifyCustomer | None = await self.shopify_customer_by_email.load(contact.email)
            return found
        return None

    async def shopify_customer_id_for(self, contact: Contact) -> str | None:
        """The id alone needs no Shopify call when the HubSpot-Shopify sync wrote it."""
        if contact.shopify_customer_id:
            return contact.shopify_customer_id
        customer = await self.shopify_customer_for(contact)
        return customer.id if customer else None

    async def member_for(self, email: str | None) -> MailchimpMember | None:
        if not email:
            return None
        member: MailchimpMember | None = await self.member_by_email.load(email)
        return member

    async def report_for(self, campaign_id: str) -> MailchimpReport | None:
        report: MailchimpReport | None = await self.mailchimp_report.load(campaign_id)
        return report

    async def _ads_metrics(
        self, keys: list[tuple[str, DateRange | None]]
    ) -> dict[tuple[str, DateRange | None], AdsMetrics]:
        """One searchStream per distinct date range, covering every campaign asked for."""
        groups: dict[DateRange | None, list[str]] = defaultdict(list)
        for campaign_id, date_range in keys:
            groups[date_range].append(campaign_id)

        async def fetch(date_range: DateRange | None, ids: list[str]) -> dict[str, AdsMetrics]:
            start = date_range.start_date if date_range else None
            end = date_range.end_date if date_range else None
            return await self.sources.googleads.campaign_metrics(sorted(set(ids)), start, end)

        ranges = list(groups)
        results = await asyncio.gather(*(fetch(r, groups[r]) for r in ranges))
        by_range = dict(zip(ranges, results, strict=True))
        return {(cid, r): by_range[r][cid] for cid, r in keys if cid in by_range[r]}

    async def _campaign_analytics(
        self, keys: list[tuple[str, DateRange]]
    ) -> list[Hit[AnalyticsSummaryRecord | None] | BaseException]:
        """GA4 by ``sessionCampaignName``: one report per date range for every campaign asked for."""
        groups: dict[DateRange, list[str]] = defaultdict(list)
        for name, date_range in keys:
            groups[date_range].append(name)
        ranges = list(groups)
        requests = [
            ReportRequest(start_date=r.start_date, end_date=r.end_date, dimensions=("sessionCampaignName",),
                          metrics=SUMMARY_METRICS, in_list_dimension="sessionCampaignName",
                          in_list_values=tuple(sorted(set(groups[r]))))
            for r in ranges
        ]
        hits = dict(zip(ranges, await self.cache.lookup_many(GA4_REPORT, requests, ident, self._reports),
                        strict=True))
        summaries: dict[DateRange, dict[str, AnalyticsSummaryRecord]] = {}
        for date_range, hit in hits.items():
            if isinstance(hit, BaseException):
                continue
            report: Report = hit.value
            index = {h.name: i for i, h in enumerate(report.metric_headers)}
            currency = report.currency_code or "USD"
            table: dict[str, AnalyticsSummaryRecord] = {}
            for row in report.rows:
                values = row.metric_values
                table[row.dimension_values[0]] = AnalyticsSummaryRecord(
                    sessions=int(float(values[index["sessions"]])),
                    total_users=int(float(values[index["totalUsers"]])),
                    new_users=int(float(values[index["newUsers"]])),
                    conversions=float(values[index["conversions"]]),
                    engagement_rate=float(values[index["engagementRate"]]),
                    total_revenue=normalize_money(values[index["totalRevenue"]], currency)
                    or normalize_money("0", currency),  # type: ignore[arg-type]
                )
            summaries[date_range] = table
        empty = {r: _zero_summary() for r in ranges}
        answers: list[Hit[AnalyticsSummaryRecord | None] | BaseException] = []
        for name, r in keys:
            hit = hits[r]
            answers.append(hit if isinstance(hit, BaseException)
                           else Hit(summaries[r].get(name, empty[r]), hit.stale_age, hit.source))
        return answers

    async def all_campaigns(self) -> dict[str, CampaignRecord]:
        """Every campaign by name, fetched at most once per operation (for ``Order.campaign``)."""
        table, lookups = await self._campaign_table()
        for hit in lookups.values():
            note(hit)
        return table

    async def _campaign_table(self) -> CampaignTable:
        if self._all_campaigns is None:
            self._all_campaigns = asyncio.ensure_future(self._fetch_all_campaigns())
        return await self._all_campaigns

    async def _reports(self, requests: list[ReportRequest]) -> dict[ReportRequest, Report]:
        ga4 = self.sources.ga4
        reports = await (ga4.batch_run_reports(requests) if len(requests) > 1 else _one(ga4.run_report(requests[0])))
        return dict(zip(requests, reports, strict=True))

    async def _fetch_all_campaigns(self) -> CampaignTable:
        mailchimp, ads = await asyncio.gather(
            self.cache.lookup(MAILCHIMP_ALL_CAMPAIGNS, "all", ident, lambda _: self.sources.mailchimp.all_campaigns()),
            self.cache.lookup(ADS_CAMPAIGN_LIST, "all", ident, lambda _: self.sources.googleads.list_campaigns()))
        by_name: dict[str, CampaignRecord] = {}
        for a in ads.value:
            by_name[a.name] = CampaignRecord("googleads", a.id, a.name, "SEARCH", a.status)
        for m in mailchimp.value:
            by_name[m.title] = CampaignRecord("mailchimp", m.id, m.title, "EMAIL", m.status, m.send_time,
                                              m.emails_sent, m.summary)
        return by_name, {"mailchimp": mailchimp, "googleads": ads}

    async def _campaigns_by_name(self, names: list[str]) -> list[Hit[CampaignRecord | None] | BaseException]:
        table, lookups = await self._campaign_table()
        answers: list[Hit[CampaignRecord | None] | BaseException] = []
        for name in names:
            record = table.get(name)
            source = lookups[record.source] if record is not None else None
            answers.append(Hit(record, source.stale_age, source.source) if source is not None else Hit(record))
        return answers


def _zero_summary() -> AnalyticsSummaryRecord:
    zero = normalize_money("0", "USD")
    assert zero is not None
    return AnalyticsSummaryRecord(0, 0, 0, 0.0, None, zero)


async def _one(awaitable: Awaitable[Any]) -> Sequence[Any]:
    return [await awaitable]
