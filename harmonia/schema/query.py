"""The root Query: entry points into customers, orders, campaigns and analytics."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from harmonia.resolvers import analytics as analytics_resolvers
from harmonia.resolvers import campaigns as campaign_resolvers
from harmonia.resolvers import customers as customer_resolvers
from harmonia.resolvers import orders as order_resolvers
from harmonia.resolvers.ids import decode_id
from harmonia.schema.access import context
from harmonia.schema.types import (
    PAGE_AFTER,
    PAGE_FIRST,
    AnalyticsReport,
    Campaign,
    CampaignConnection,
    Customer,
    CustomerConnection,
    DateRangeInput,
    Node,
    Order,
    OrderConnection,
)

ID_ARG = strawberry.argument(description="A global id from this API.")


async def _customer(info: Info[Any, Any], global_id: str) -> Customer | None:
    ctx = context(info)
    _, local = decode_id(global_id, "Customer")
    contact = await customer_resolvers.customer_by_id(ctx, local)
    return Customer.of(contact) if contact else None


async def _order(info: Info[Any, Any], global_id: str) -> Order | None:
    ctx = context(info)
    _, local = decode_id(global_id, "Order")
    order = await order_resolvers.order_by_id(ctx, local)
    order_resolvers.order_window_warning(ctx, info.path.as_list())
    return Order.of(order) if order else None


async def _campaign(info: Info[Any, Any], global_id: str) -> Campaign | None:
    ctx = context(info)
    _, local = decode_id(global_id, "Campaign")
    record = await campaign_resolvers.campaign_by_id(ctx, local)
    return Campaign.of(record) if record else None


@strawberry.type(description="Read customers, orders, campaigns and web analytics across every source.")
class Query:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG]) -> Node | None:
        type_name, _ = decode_id(id)
        if type_name == "Customer":
            return await _customer(info, id)
        if type_name == "Order":
            return await _order(info, id)
        return await _campaign(info, id)

    @strawberry.field(description="One customer by global id.")
    async def customer(self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG]) -> Customer | None:
        return await _customer(info, id)

    @strawberry.field(description="One customer by email (case and surrounding spaces ignored).")
    async def customer_by_email(
        self, info: Info[Any, Any], email: Annotated[str, strawberry.argument(description="Email address.")]
    ) -> Customer | None:
        ctx = context(info)
        contact = await customer_resolvers.customer_by_email(ctx, email)
        return Customer.of(contact) if contact else None

    @strawberry.field(description="Customers (non-archived CRM contacts), in CRM order.")
    async def customers(
        self,
        info: Info[Any, Any],
        first: Annotated[int | None, strawberry.argument(description=PAGE_FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=PAGE_AFTER)] = None,
    ) -> CustomerConnection:
        ctx = context(info)
        page = await customer_resolvers.list_customers(ctx, 20 if first is None else first, after)
        return CustomerConnection.of(page)

    @strawberry.field(description="One order by global id.")
    async def order(self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG]) -> Order | None:
        return await _order(info, id)

    @strawberry.field(description="Orders of every status (open, closed, cancelled), oldest first.")
    async def orders(
        self,
        info: Info[Any, Any],
        first: Annotated[int | None, strawberry.argument(description=PAGE_FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=PAGE_AFTER)] = None,
    ) -> OrderConnection:
        ctx = context(info)
        page = await order_resolvers.list_orders(ctx, 20 if first is None else first, after)
        order_resolvers.order_window_warning(ctx, info.path.as_list())
        return OrderConnection.of(page, countable=True)

    @strawberry.field(description="One campaign by global id.")
    async def campaign(self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG]) -> Campaign | None:
        return await _campaign(info, id)

    @strawberry.field(description="Campaigns: Mailchimp (EMAIL) then Google Ads (SEARCH).")
    async def campaigns(
        self,
        info: Info[Any, Any],
        first: Annotated[int | None, strawberry.argument(description=PAGE_FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=PAGE_AFTER)] = None,
    ) -> CampaignConnection:
        ctx = context(info)
        page = await campaign_resolvers.list_campaigns(ctx, 20 if first is None else first, after)
        return CampaignConnection.of(page)

    @strawberry.field(description="Any GA4 report: dimensions (e.g. date, sessionCampaignName, deviceCategory) "
                                  "and metrics (e.g. sessions, totalUsers, conversions, totalRevenue).")
    async def analytics(
        self,
        info: Info[Any, Any],
        date_range: Annotated[DateRangeInput, strawberry.argument(description="The days to report on.")],
        dimensions: Annotated[list[str], strawberry.argument(description="GA4 dimension names (≤ 9).")],
        metrics: Annotated[list[str], strawberry.argument(description="GA4 metric names (1..10).")],
        limit: Annotated[int, strawberry.argument(description="Rows to return (≤ 10000).")] = 1000,
        offset: Annotated[int, strawberry.argument(description="Rows to skip.")] = 0,
    ) -> AnalyticsReport:
        ctx = context(info)
        parsed = campaign_resolvers.parse_date_range(date_range.start_date, date_range.end_date)
        report = await analytics_resolvers.run_analytics(ctx, parsed, dimensions, metrics, limit, offset)
        return AnalyticsReport.of(report)
