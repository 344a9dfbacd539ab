"""Customers: a HubSpot contact joined with its Shopify customer and its Mailchimp list member.

    page = await list_customers(ctx, first=50, after=None)
    orders = await customer_orders(ctx, page.edges[0].node, first=5, after=None)
"""

from __future__ import annotations

from harmonia.errors import BadUserInput
from harmonia.resolvers.cached import CONTACT_PAGE, cached_pages
from harmonia.resolvers.context import RequestContext
from harmonia.resolvers.paging import Slice, check_first, slice_pages
from harmonia.sources.normalize import normalize_email
from harmonia.sources.records import Contact, Page, ShopifyOrder
from harmonia.sources.shopify_orders import CustomerRef

HUBSPOT_PAGE_MAX = 100
SHOPIFY_PAGE_MAX = 250


async def list_customers(ctx: RequestContext, first: int, after: str | None) -> Slice[Contact]:
    check_first(first, ctx.settings.limits.max_page_size)
    assert ctx.cache is not None
    return await slice_pages(cached_pages(ctx.cache, CONTACT_PAGE, ctx.sources.hubspot.list_contacts),
                             kind="customers", first=first, after=after, max_page=HUBSPOT_PAGE_MAX)


async def customer_by_id(ctx: RequestContext, contact_id: str) -> Contact | None:
    if not contact_id.isdigit():
        return None  # HubSpot ids are numeric: nothing to ask it for
    return await ctx.loaders.contact(contact_id)


async def customer_by_email(ctx: RequestContext, email: str) -> Contact | None:
    normalized = normalize_email(email)
    if normalized is None or "@" not in normalized or len(normalized) > 254:
        raise BadUserInput("`email` must be an email address", argument="email")
    contact: Contact | None = await ctx.loaders.contact_by_email.load(normalized)
    return None if contact is None or contact.archived else contact


async def customer_orders(ctx: RequestContext, contact: Contact, first: int, after: str | None) -> Slice[ShopifyOrder]:
    """The contact's Shopify orders: its linked customer's, else those of the customer with its email. Every
    customer of a page asks in the same tick, so their orders come in one Shopify call (or a few, by cost)."""
    check_first(first, ctx.settings.limits.max_page_size)
    if contact.shopify_customer_id:
        ref = CustomerRef.by_id(contact.shopify_customer_id)
    elif contact.email:
        ref = CustomerRef.by_email(contact.email)
    else:
        return Slice([], has_next_page=False, total=0)

    async def fetch(limit: int, cursor: str | None) -> Page[ShopifyOrder]:
        page: Page[ShopifyOrder] = await ctx.loaders.customer_orders.load((ref, limit, cursor))
        return page

    # The cursor names the contact, never the email it was looked up by (a cursor is readable by its holder).
    return await slice_pages(fetch, kind=f"customer-orders:{contact.id}", first=first, after=after,
                             max_page=SHOPIFY_PAGE_MAX)
