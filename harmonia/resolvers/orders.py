"""Orders: Shopify orders of every status, their HubSpot customer, products and attributed campaign.

    page = await list_orders(ctx, first=50, after=None)
    contact = await order_customer(ctx, page.edges[0].node)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harmonia.cache.stale import Noted, each_value
from harmonia.errors import UpstreamUnavailable
from harmonia.resolvers.cached import ORDER_COUNT, ORDER_PAGE, cached_call, cached_pages
from harmonia.resolvers.context import RequestContext
from harmonia.resolvers.paging import Slice, check_first, slice_pages
from harmonia.resolvers.records import CampaignRecord
from harmonia.sources.records import Contact, LineItem, OrderAttribution, OrderLineItems, ShopifyOrder

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
    """``order_campaign`` for many orders in one go (answers as ``order_customers``'s): their attribution in
    one Shopify call, then the campaigns by name."""
    attributions = await ctx.loaders.order_attribution.load_each([order.id for order in orders])
    names: list[str | None] = []
    for found in attributions:
        value = found.value if type(found) is Noted else found
        names.append(value.utm_campaign if isinstance(value, OrderAttribution) else None)
    campaigns = await ctx.loaders.campaign_by_name.load_each(names)
    # An order whose attribution could not be read answers that error, not "no campaign".
    return [found if isinstance(found, BaseException) else campaign
            for found, campaign in zip(attributions, campaigns, strict=True)]


async def order_campaign(ctx: RequestContext, order: ShopifyOrder) -> CampaignRecord | None:
    attribution: OrderAttribution | None = await ctx.loaders.order_attribution.load(order.id)
    if attribution is None or not attribution.utm_campaign:
        return None
    campaign: CampaignRecord | None = await ctx.loaders.campaign_by_name.load(attribution.utm_campaign)
    return campaign


async def order_line_items(ctx: RequestContext, order: ShopifyOrder) -> tuple[LineItem, ...]:
    """The order's products, read (for every order of the page at once) only when a query asks for them."""
    found: OrderLineItems | None = await ctx.loaders.order_line_items.load(order.id)
    if found is not None and not found.readable:
        raise UpstreamUnavailable("shopify", "shopify could not read this order's line items")
    return found.items if found is not None else ()


def order_window_warning(ctx: RequestContext, path: list[str | int]) -> None:
    """Say, in ``extensions.warnings``, that Shopify shows only recent orders to this token: totals and
    lists are short, not wrong, and the fix is a scope."""
    days = ctx.sources.shopify.orders_window_days()
    if days is not None:
        ctx.warn("SHOPIFY_ORDERS_WINDOW", path, source="shopify",
                 message=f"Shopify shows only the last {days} days of orders to this access token: older orders "
                         "are missing from this answer.",
                 fix="Grant the app the read_all_orders scope (Shopify must approve it for public apps).")
