"""The unified types: strawberry wrappers around the resolvers' plain records.

Simple fields read the wrapped record directly (no resolver call, no I/O); joins go through
the per-request loaders, so a field that is not selected never touches its source.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, NewType

import strawberry
from strawberry.types import Info

from harmonia.cache.stale import each_value
from harmonia.resolvers import campaigns as campaign_resolvers
from harmonia.resolvers import customers as customer_resolvers
from harmonia.resolvers import orders as order_resolvers
from harmonia.resolvers.ids import encode_id
from harmonia.resolvers.paging import Slice
from harmonia.resolvers.records import AnalyticsSummaryRecord, CampaignRecord, CampaignStatsRecord
from harmonia.schema.access import context
from harmonia.schema.lean import BATCH
from harmonia.schema.selection import selected_fields
from harmonia.sources import records as src

DateTime = NewType("DateTime", str)
DATETIME_SCALAR = strawberry.scalar(
    name="DateTime",
    description='ISO 8601 in UTC, e.g. "2024-05-01T10:15:00Z", whatever the source sent.',
    serialize=str,
    parse_value=str,
)

PAGE_FIRST = "How many to return (at most the configured max page size, 100 by default)."
PAGE_AFTER = "Return the edges after this cursor (an edge's `cursor` or `pageInfo.endCursor`)."


@strawberry.type(description="An exact amount of money in one currency.")
class Money:
    amount: str = strawberry.field(description='Exact decimal string, e.g. "199.00"; never a float.')
    currency_code: str = strawberry.field(description="ISO 4217 currency code, e.g. USD.")

    @staticmethod
    def of(value: src.Money | None) -> Money | None:
        return Money(amount=value.amount, currency_code=value.currency_code) if value else None


@strawberry.type(description="Where a connection page ends (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more edges follow `endCursor`.")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor; pass it as `after`.")


def page_info(page: Slice[Any]) -> PageInfo:
    return PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor)


@strawberry.interface(description="Anything with a global id that `Query.node` can fetch again.")
class Node:
    id: strawberry.ID = strawberry.field(description="Globally unique, opaque, stable across restarts.")


@strawberry.enum(description="Where a campaign runs.")
class CampaignChannel(Enum):
    EMAIL = strawberry.enum_value("EMAIL", description="A Mailchimp email campaign.")
    SEARCH = strawberry.enum_value("SEARCH", description="A Google Ads campaign.")


@strawberry.input(description="An inclusive range of calendar days.")
class DateRangeInput:
    start_date: str = strawberry.field(description="First day, YYYY-MM-DD.")
    end_date: str = strawberry.field(description="Last day, YYYY-MM-DD (inclusive).")


@strawberry.type(description="One product line of an order.")
class LineItem:
    title: str = strawberry.field(description="The product title at the time of the order.")
    quantity: int = strawberry.field(description="Units ordered.")
    price: Money = strawberry.field(description="Unit price.")


@strawberry.type(description="A person: a HubSpot contact joined with their Shopify customer and Mailchimp member.")
class Customer(Node):
    _contact: strawberry.Private[src.Contact]

    @strawberry.field(description="Email address, lower-cased and trimmed. Masked for some roles.")
    def email(self) -> str | None:
        return self._contact.email

    @strawberry.field(description="First name (HubSpot `firstname`).")
    def first_name(self) -> str | None:
        return self._contact.first_name

    @strawberry.field(description="Last name (HubSpot `lastname`).")
    def last_name(self) -> str | None:
        return self._contact.last_name

    @strawberry.field(description="Phone number in E.164, e.g. +15551230000. Masked for some roles.")
    def phone(self) -> str | None:
        return self._contact.phone

    @strawberry.field(description="HubSpot lifecycle stage, e.g. `lead`, `customer`.")
    def lifecycle_stage(self) -> str | None:
        return self._contact.lifecycle_stage

    @strawberry.field(description="When the contact was created in the CRM.")
    def created_at(self) -> DateTime | None:
        return DateTime(self._contact.created_at) if self._contact.created_at else None

    @strawberry.field(description="Lifetime spend in the shop (Shopify `total_spent`).")
    async def total_spent(self, info: Info[Any, Any]) -> Money | None:
        customer = await context(info).loaders.shopify_customer_for(self._contact)
        return Money.of(customer.total_spent) if customer else None

    @strawberry.field(description="Number of shop orders (Shopify `orders_count`).")
    async def orders_count(self, info: Info[Any, Any]) -> int | None:
        customer = await context(info).loaders.shopify_customer_for(self._contact)
        return customer.orders_count if customer else None

    @strawberry.field(description="Mailchimp list member status: subscribed, unsubscribed, cleaned, pending, "
                                  "transactional; null when not on the list.")
    async def email_marketing_status(self, info: Info[Any, Any]) -> str | None:
        member = await context(info).loaders.member_for(self._contact.email)
        return member.status if member else None

    @strawberry.field(description="The customer's shop orders, every status, newest last.")
    async def orders(
        self,
        info: Info[Any, Any],
        first: Annotated[int | None, strawberry.argument(description=PAGE_FIRST)] = 10,
        after: Annotated[str | None, strawberry.argument(description=PAGE_AFTER)] = None,
    ) -> OrderConnection:
        ctx = context(info)
        page = await customer_resolvers.customer_orders(ctx, self._contact, 10 if first is None else first, after)
        order_resolvers.order_window_warning(ctx, info.path.as_list())
        return OrderConnection.of(page)

    @staticmethod
    def of(contact: src.Contact) -> Customer:
        return Customer(id=strawberry.ID(encode_id("Customer", contact.id)), _contact=contact)


async def _customers_of(orders: list[Order], info: Info[Any, Any]) -> list[Any]:
    """``Order.customer`` for a page of orders at once (what the compiled executor calls)."""
    contacts = await order_resolvers.order_customers(context(info), [order._order for order in orders])
    return each_value(contacts, _customer_or_none)


def _customer_or_none(contact: src.Contact | None) -> Customer | None:
    return Customer.of(contact) if contact else None


async def _campaigns_of(orders: list[Order], info: Info[Any, Any]) -> list[Any]:
    """``Order.campaign`` for a page of orders at once (what the compiled executor calls)."""
    records = await order_resolvers.order_campaigns(context(info), [order._order for order in orders])
    return each_value(records, _campaign_or_none)


def _campaign_or_none(record: CampaignRecord | None) -> Campaign | None:
    return Campaign.of(record) if record else None


@strawberry.type(description="A shop order (Shopify), whatever its status.")
class Order(Node):
    _order: strawberry.Private[src.ShopifyOrder]

    @strawberry.field(description='The order name shown to the buyer, e.g. "#1001".')
    def name(self) -> str:
        return self._order.name

    @strawberry.field(description="When the order was placed.")
    def created_at(self) -> DateTime:
        return DateTime(self._order.created_at)

    @strawberry.field(description="Total including taxes, in the shop currency.")
    def total_price(self) -> Money:
        money = Money.of(self._order.total_price)
        assert money is not None
        return money

    @strawberry.field(description="Payment state, e.g. paid, pending, refunded.")
    def financial_status(self) -> str | None:
        return self._order.financial_status

    @strawberry.field(description="The products ordered (read only when asked for: one Shopify call for the "
                                  "orders of a page).")
    async def line_items(self, info: Info[Any, Any]) -> list[LineItem]:
        items = await order_resolvers.order_line_items(context(info), self._order)
        return [LineItem(title=li.title, quantity=li.quantity, price=Money(amount=li.price.amount,
                         currency_code=li.price.currency_code)) for li in items]

    @strawberry.field(description="The CRM customer with the order's email.", metadata={BATCH: _customers_of})
    async def customer(self, info: Info[Any, Any]) -> Customer | None:
        return _customer_or_none(await order_resolvers.order_customer(context(info), self._order))

    @strawberry.field(description="The campaign named by the order's `utm_campaign` (from its landing URL).",
                      metadata={BATCH: _campaigns_of})
    async def campaign(self, info: Info[Any, Any]) -> Campaign | None:
        return _campaign_or_none(await order_resolvers.order_campaign(context(info), self._order))

    @staticmethod
    def of(order: src.ShopifyOrder) -> Order:
        return Order(id=strawberry.ID(encode_id("Order", order.id)), _order=order)


@strawberry.type(description="Campaign performance: the Mailchimp report (EMAIL) or Google Ads metrics "
                             "(SEARCH). Fields the channel does not measure are null.")
class CampaignStats:
    clicks: int | None = strawberry.field(description="Clicks (email: total clicks; search: ad clicks).")
    emails_sent: int | None = strawberry.field(description="EMAIL: emails sent.")
    opens: int | None = strawberry.field(description="EMAIL: total opens.")
    unique_opens: int | None = strawberry.field(description="EMAIL: unique opens.")
    open_rate: float | None = strawberry.field(description="EMAIL: unique opens / emails sent (0..1).")
    unique_clicks: int | None = strawberry.field(description="EMAIL: unique clicks.")
    click_rate: float | None = strawberry.field(description="EMAIL: unique clicks / emails sent (0..1).")
    unsubscribed: int | None = strawberry.field(description="EMAIL: unsubscribes caused.")
    impressions: int | None = strawberry.field(description="SEARCH: ad impressions.")
    cost: Money | None = strawberry.field(description="SEARCH: spend (Google Ads cost_micros / 1e6).")
    conversions: float | None = strawberry.field(description="SEARCH: conversions (may be fractional).")
    ctr: float | None = strawberry.field(description="SEARCH: clicks / impressions (0..1).")

    @staticmethod
    def of(r: CampaignStatsRecord) -> CampaignStats:
        return CampaignStats(clicks=r.clicks, emails_sent=r.emails_sent, opens=r.opens, unique_opens=r.unique_opens,
                             open_rate=r.open_rate, unique_clicks=r.unique_clicks, click_rate=r.click_rate,
                             unsubscribed=r.unsubscribed, impressions=r.impressions, cost=Money.of(r.cost),
                             conversions=r.conversions, ctr=r.ctr)


@strawberry.type(description="GA4 web analytics for one campaign (sessions whose `sessionCampaignName` "
                             "is the campaign's name).")
class AnalyticsSummary:
    sessions: int = strawberry.field(description="Sessions.")
    total_users: int = strawberry.field(description="Users (GA4 totalUsers).")
    new_users: int = strawberry.field(description="First-time users.")
    conversions: float = strawberry.field(description="Key events / conversions.")
    engagement_rate: float | None = strawberry.field(description="Engaged sessions / sessions (0..1).")
    total_revenue: Money = strawberry.field(description="Revenue attributed to the sessions.")

    @staticmethod
    def of(r: AnalyticsSummaryRecord) -> AnalyticsSummary:
        revenue = Money.of(r.total_revenue)
        assert revenue is not None
        return AnalyticsSummary(sessions=r.sessions, total_users=r.total_users, new_users=r.new_users,
                                conversions=r.conversions, engagement_rate=r.engagement_rate,
                                total_revenue=revenue)


@strawberry.type(description="A marketing campaign: a Mailchimp campaign (EMAIL) or a Google Ads campaign (SEARCH).")
class Campaign(Node):
    _campaign: strawberry.Private[CampaignRecord]

    @strawberry.field(description="Mailchimp `settings.title` or Google Ads `campaign.name`.")
    def name(self) -> str:
        return self._campaign.name

    @strawberry.field(description="EMAIL (Mailchimp) or SEARCH (Google Ads).")
    def channel(self) -> CampaignChannel:
        return CampaignChannel(self._campaign.channel)

    @strawberry.field(description="The source's status, e.g. sent, save (Mailchimp); ENABLED, PAUSED (Google Ads).")
    def status(self) -> str | None:
        return self._campaign.status

    @strawberry.field(description="Lifetime totals, or only the given days. An email campaign's report counts "
                                  "in a range when the campaign was sent within it.")
    async def stats(
        self,
        info: Info[Any, Any],
        date_range: Annotated[DateRangeInput | None, strawberry.argument(
            description="Restrict to these days; lifetime totals when omitted.")] = None,
    ) -> CampaignStats | None:
        ctx = context(info)
        parsed = campaign_resolvers.parse_date_range(date_range.start_date, date_range.end_date) if date_range else None
        record = await campaign_resolvers.campaign_stats(ctx, self._campaign, parsed, selected_fields(info))
        return CampaignStats.of(record) if record else None

    @strawberry.field(description="GA4 sessions, users, conversions and revenue for this campaign.")
    async def analytics(
        self,
        info: Info[Any, Any],
        date_range: Annotated[DateRangeInput, strawberry.argument(description="The days to report on.")],
    ) -> AnalyticsSummary | None:
        ctx = context(info)
        parsed = campaign_resolvers.parse_date_range(date_range.start_date, date_range.end_date)
        record = await campaign_resolvers.campaign_analytics(ctx, self._campaign, parsed)
        return AnalyticsSummary.of(record) if record else None

    @staticmethod
    def of(record: CampaignRecord) -> Campaign:
        return Campaign(id=strawberry.ID(encode_id("Campaign", record.source, record.id)), _campaign=record)


@strawberry.type(description="A customer and its cursor.")
class CustomerEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this customer.")
    # Nullable, as Relay allows: a customer whose non-null join fails (Shopify down under `orders`)
    # nulls its own edge, not the whole page.
    node: Customer | None = strawberry.field(description="The customer; null when a source it needs failed.")


@strawberry.type(description="A page of customers (Relay connection).")
class CustomerConnection:
    edges: list[CustomerEdge] = strawberry.field(description="The customers of this page, each with its cursor.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and the cursor to ask from.")
    total_count: int | None = strawberry.field(default=None, description="Null: HubSpot lists do not say.")

    @staticmethod
    def of(page: Slice[src.Contact]) -> CustomerConnection:
        return CustomerConnection(edges=[CustomerEdge(cursor=e.cursor, node=Customer.of(e.node)) for e in page.edges],
                                  page_info=page_info(page), total_count=page.total)


@strawberry.type(description="An order and its cursor.")
class OrderEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this order.")
    node: Order = strawberry.field(description="The order.")


@strawberry.type(description="A page of orders (Relay connection).")
class OrderConnection:
    edges: list[OrderEdge] = strawberry.field(description="The orders of this page, each with its cursor.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and the cursor to ask from.")

    @strawberry.field(description="All orders in the shop, any status (one extra Shopify call when selected).")
    async def total_count(self, info: Info[Any, Any]) -> int | None:
        if self._total is not None:
            return self._total
        if not self._countable:
            return None
        ctx = context(info)
        count = await order_resolvers.count_orders(ctx)
        order_resolvers.order_window_warning(ctx, info.path.as_list())
        return count

    _total: strawberry.Private[int | None] = None
    _countable: strawberry.Private[bool] = False

    @staticmethod
    def of(page: Slice[src.ShopifyOrder], countable: bool = False) -> OrderConnection:
        return OrderConnection(edges=[OrderEdge(cursor=e.cursor, node=Order.of(e.node)) for e in page.edges],
                               page_info=page_info(page), _total=page.total, _countable=countable)


@strawberry.type(description="A campaign and its cursor.")
class CampaignEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this campaign.")
    node: Campaign = strawberry.field(description="The campaign.")


@strawberry.type(description="A page of campaigns: Mailchimp first, then Google Ads (Relay connection).")
class CampaignConnection:
    edges: list[CampaignEdge] = strawberry.field(description="The campaigns of this page, each with its cursor.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and the cursor to ask from.")

    @strawberry.field(description="Mailchimp and Google Ads campaigns together.")
    async def total_count(self, info: Info[Any, Any]) -> int | None:
        if self._total is not None:
            return self._total
        return await campaign_resolvers.campaign_totals(context(info))

    _total: strawberry.Private[int | None] = None

    @staticmethod
    def of(page: Slice[CampaignRecord]) -> CampaignConnection:
        return CampaignConnection(edges=[CampaignEdge(cursor=e.cursor, node=Campaign.of(e.node)) for e in page.edges],
                                  page_info=page_info(page), _total=page.total)


@strawberry.type(description="A GA4 metric column: its name and GA4 type (TYPE_INTEGER, TYPE_FLOAT, TYPE_CURRENCY...).")
class MetricHeader:
    name: str = strawberry.field(description="The GA4 metric name, e.g. sessions.")
    type: str = strawberry.field(description="The GA4 metric type, e.g. TYPE_INTEGER or TYPE_CURRENCY.")


@strawberry.type(description="One row of a GA4 report, in the order of the requested dimensions and metrics.")
class AnalyticsRow:
    dimension_values: list[str] = strawberry.field(description="Dimension values, as GA4 sent them.")
    metric_values: list[str] = strawberry.field(description="Metric values as GA4's exact strings.")

    @strawberry.field(description="Metric values as numbers.")
    def metrics(self) -> list[float]:
        return [float(v) if v else 0.0 for v in self.metric_values]


@strawberry.type(description="A GA4 report over any allowed dimensions and metrics.")
class AnalyticsReport:
    dimension_headers: list[str] = strawberry.field(description="The dimension names, in row order.")
    metric_headers: list[MetricHeader] = strawberry.field(description="The metric names and types, in row order.")
    rows: list[AnalyticsRow] = strawberry.field(description="This page of rows.")
    row_count: int = strawberry.field(description="Rows in the whole report, not just this page.")
    currency_code: str | None = strawberry.field(description="The property's currency (ISO 4217).")
    time_zone: str | None = strawberry.field(description="The property's reporting time zone.")

    @staticmethod
    def of(report: src.Report) -> AnalyticsReport:
        return AnalyticsReport(
            dimension_headers=list(report.dimension_headers),
            metric_headers=[MetricHeader(name=h.name, type=h.type) for h in report.metric_headers],
            rows=[AnalyticsRow(dimension_values=list(r.dimension_values), metric_values=list(r.metric_values))
                  for r in report.rows],
            row_count=report.row_count, currency_code=report.currency_code, time_zone=report.time_zone,
        )
