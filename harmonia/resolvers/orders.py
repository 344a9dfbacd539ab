"""Orders: Shopify orders of every status, their HubSpot customer and their attributed campaign.

    page = await list_orders(ctx, first=50, after=None)
    contact = await order_customer(ctx, page.edges[0].node)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harmonia.cache.stale import each_value
from harmonia.resolvers.cached import ORDER_COUNT, ORDER_PAGE, cached_call, cached_pages
from harmonia.resolvers.context import RequestContext
from harmonia.resolvers.paging import Slice, check_first, slice_pages
from harmonia.resolvers.records import CampaignRecord
from harmonia.sources.records import Contact, ShopifyOrder

SHOPIFY_PAGE_MAX = 250


async def list_orders(ctx: RequestContext, first: int, after: str | None) -> Slice[ShopifyOrder]:
    check_first(first, ctx.settings.limits.max_page_size)
    assert ctx.cache is not None
    return await slice_pages(cached_pages(ctx.cache, ORDER_PAGE, ctx.sources.shopify.list_orders),
                             kind="orders", first=first, after=after, max_page=SHOPIFY_PAGE_MAX)


async def count_orders(ctx: RequestContext) -> int:
    assert ctx.cache is not None
    return await cached_call(ctx.cache, ORDER_COUNT, "all", lambda _: ctx.sources.shopify.count_orders())


async def order_by_id(ctx: RequestContext, order_id: str) -> ShopifyOrder | None:
    if not order_id.isdigit():
        return None
    order: ShopifyOrder | None = await ctx.loaders.order_by_id.load(order_id)
    return order


async def order_customer(ctx: RequestContext, order: ShopifyOrder) -> Contact | None:
    """The CRM contact with the order's email (the CRM is the system of record for people)."""
    if not order.email:
        return None
    contact: Contact | None = await ctx.loaders.contact_by_email.load(order.email)
    return _unarchived(contact)


async def order_customers(ctx: RequestContext, orders: Sequence[ShopifyOrder]) -> list[Any]:
    """``order_customer`` for many orders in one go: per order, the contact or None, ``Noted`` when
    served stale, or the exception its lookup failed with."""
    return each_value(await ctx.loaders.contact_by_email.load_each([order.email for order in orders]), _unarchived)


def _unarchived(contact: Contact | None) -> Contact | None:
    return None if contact is None or contact.archived else contact


async def order_campaigns(ctx: RequestContext, orders: Sequence[ShopifyOrder]) -> list[Any]:
    """``order_campaign`` for many orders in one go (answers as ``order_customers``'s)."""
    return await ctx.loaders.campaign_by_name.load_each([order.utm_campaign for order in orders])


async def order_campaign(ctx: RequestContext, order: ShopifyOrder) -> CampaignRecord | None:
    if not order.utm_campaign:
        return None
    campaign: CampaignRecord | None = await ctx.loaders.campaign_by_name.load(order.utm_campaign)
    return campaign
