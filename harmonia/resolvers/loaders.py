"""Per-request batch loaders: N sibling lookups become the fewest upstream requests the API allows.

    contact = await ctx.loaders.contact_by_email.load("ada@example.com")

Built once per operation (``RequestContext.loaders``), never at module level, so their
caches die with the request. Each loader dedupes its keys, so no key is asked for twice in one
operation; batch endpoints (HubSpot ``batch/read``, Shopify ``ids=``, one GA4 report with an
``inListFilter``, one Google Ads stream) are split at each API's maximum by the connectors.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader

from harmonia.resolvers.records import AnalyticsSummaryRecord, CampaignRecord, DateRange
from harmonia.sources.normalize import normalize_money
from harmonia.sources.records import (
    AdsMetrics,
    Contact,
    MailchimpMember,
    MailchimpReport,
    Page,
    ReportRequest,
    ShopifyCustomer,
    ShopifyOrder,
)

if TYPE_CHECKING:
    from harmonia.resolvers.context import Sources

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

SUMMARY_METRICS = ("sessions", "totalUsers", "newUsers", "conversions", "totalRevenue", "engagementRate")
OrdersPageKey = tuple[str, int, str | None]  # (shopify customer id, limit, page_info)


Batch = Callable[[list[K]], Coroutine[Any, Any, list[V]]]
Loader = DataLoader[Any, Any]


def _by_key(fetch: Callable[[list[K]], Awaitable[dict[K, V]]]) -> Batch[K, V | None]:
    """Adapt a connector's ``keys -> {key: record}`` to DataLoader's ordered list, None for misses."""

    async def load(keys: list[K]) -> list[V | None]:
        found = await fetch(keys)
        return [found.get(key) for key in keys]

    return load


def _each(fetch: Callable[[K], Awaitable[V]]) -> Batch[K, V]:
    """For APIs with no batch endpoint: one call per distinct key, concurrently (pacers cap them)."""

    async def load(keys: list[K]) -> list[V]:
        return list(await asyncio.gather(*(fetch(key) for key in keys)))

    return load


class Loaders:
    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        s = sources
        self.contact_by_id: Loader = DataLoader(_by_key(s.hubspot.batch_read))
        self.contact_by_email: Loader = DataLoader(_by_key(s.hubspot.batch_read_by_email))
        self.shopify_customer_by_id: Loader = DataLoader(_by_key(s.shopify.get_customers))
        self.shopify_customer_by_email: Loader = DataLoader(_each(s.shopify.find_customer_by_email))
        self.order_by_id: Loader = DataLoader(_by_key(s.shopify.get_orders))
        self.customer_orders: Loader = DataLoader(_each(self._customer_orders_page))
        self.member_by_email: Loader = DataLoader(_by_key(s.mailchimp.get_members))
        self.mailchimp_campaign: Loader = DataLoader(_each(s.mailchimp.get_campaign))
        self.mailchimp_report: Loader = DataLoader(_by_key(s.mailchimp.get_reports))
        self.ads_campaign: Loader = DataLoader(_by_key(s.googleads.get_campaigns))
        self.ads_metrics: Loader = DataLoader(self._ads_metrics)
        self.campaign_analytics: Loader = DataLoader(self._campaign_analytics)
        self.campaign_by_name: Loader = DataLoader(self._campaigns_by_name)
        self._all_campaigns: asyncio.Task[dict[str, CampaignRecord]] | None = None

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

    async def _customer_orders_page(self, key: OrdersPageKey) -> Page[ShopifyOrder]:
        customer_id, limit, page_info = key
        return await self.sources.shopify.customer_orders(customer_id, limit, page_info)

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

    async def _ads_metrics(self, keys: list[tuple[str, DateRange | None]]) -> list[AdsMetrics | None]:
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
        return [by_range[date_range].get(campaign_id) for campaign_id, date_range in keys]

    async def _campaign_analytics(self, keys: list[tuple[str, DateRange]]) -> list[AnalyticsSummaryRecord | None]:
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
        ga4 = self.sources.ga4
        reports = await (ga4.batch_run_reports(requests) if len(requests) > 1 else _one(ga4.run_report(requests[0])))
        summaries: dict[DateRange, dict[str, AnalyticsSummaryRecord]] = {}
        for date_range, report in zip(ranges, reports, strict=True):
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
        return [summaries[r].get(name, empty[r]) for name, r in keys]

    async def all_campaigns(self) -> dict[str, CampaignRecord]:
        """Every campaign by name, fetched at most once per operation (for ``Order.campaign``)."""
        if self._all_campaigns is None:
            self._all_campaigns = asyncio.ensure_future(self._fetch_all_campaigns())
        return await self._all_campaigns

    async def _fetch_all_campaigns(self) -> dict[str, CampaignRecord]:
        mailchimp, ads = await asyncio.gather(self.sources.mailchimp.all_campaigns(),
                                              self.sources.googleads.list_campaigns())
        by_name: dict[str, CampaignRecord] = {}
        for a in ads:
            by_name[a.name] = CampaignRecord("googleads", a.id, a.name, "SEARCH", a.status)
        for m in mailchimp:
            by_name[m.title] = CampaignRecord("mailchimp", m.id, m.title, "EMAIL", m.status, m.send_time,
                                              m.emails_sent, m.summary)
        return by_name

    async def _campaigns_by_name(self, names: list[str]) -> list[CampaignRecord | None]:
        table = await self.all_campaigns()
        return [table.get(name) for name in names]


def _zero_summary() -> AnalyticsSummaryRecord:
    zero = normalize_money("0", "USD")
    assert zero is not None
    return AnalyticsSummaryRecord(0, 0, 0, 0.0, None, zero)


async def _one(awaitable: Awaitable[Any]) -> Sequence[Any]:
    return [await awaitable]
