"""The writes behind the mutations: validate everything, then write through to the sources, then forget.

    contact = await update_customer(ctx, "151", {"lifecycleStage": "customer", "phone": "+15551230000"})
    consent = await set_email_marketing_consent(ctx, "151", "unsubscribed")
    campaign = await update_campaign_status(ctx, "googleads:148", "PAUSE")
    job = await erase_customer(ctx, "151")

Order of work in each: input checks (BAD_USER_INPUT, nothing sent), the reads the write needs,
the writes, then ``ctx.invalidate`` for every record written, so the answer and every later read
show the change. The schema layer checks field policies and idempotency keys before calling these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harmonia.errors import BadUserInput
from harmonia.resolvers import validation
from harmonia.resolvers.campaigns import from_ads, from_mailchimp
from harmonia.resolvers.context import RequestContext
from harmonia.resolvers.erasure_store import ErasureJob
from harmonia.resolvers.records import CampaignRecord
from harmonia.sources.records import Contact, MailchimpCampaign, MailchimpReportSummary
from harmonia.sources.writes import GoogleAdsWrites, HubSpotWrites, MailchimpWrites, ShopifyWrites

# Customer field (GraphQL name) -> HubSpot property
CUSTOMER_PROPERTIES = {"email": "email", "firstName": "firstname", "lastName": "lastname", "phone": "phone",
                       "lifecycleStage": "lifecyclestage"}
CAMPAIGN_ACTIONS = ("PAUSE", "RESUME", "UNSCHEDULE")
ADS_STATUS = {"PAUSE": "PAUSED", "RESUME": "ENABLED"}
# Mailchimp's own rules (checked here first, so a refused change sends nothing): action -> (allowed, needs)
MAILCHIMP_RULES: dict[str, tuple[Callable[[MailchimpCampaign], bool], str]] = {
    "PAUSE": (lambda c: c.type == "rss" and c.status == "sending", "an RSS campaign that is sending"),
    "RESUME": (lambda c: c.type == "rss" and c.status == "paused", "a paused RSS campaign"),
    "UNSCHEDULE": (lambda c: c.status == "schedule", "a scheduled campaign"),
}


@dataclass(frozen=True, slots=True)
class ConsentChange:
    contact: Contact
    mailchimp_status: str
    shopify_state: str | None


def customer_changes(changes: dict[str, str | None]) -> dict[str, str | None]:
    """HubSpot properties for the given Customer fields, each checked; None clears a field."""
    if not changes:
        raise BadUserInput("`input` names no field to change", argument="input")
    properties: dict[str, str | None] = {}
    for field, value in changes.items():
        argument = f"input.{field}"
        if value is not None:
            if field == "email":
                value = validation.email_address(value, argument)
            elif field == "phone":
                value = validation.e164_phone(value, argument)
            elif field == "lifecycleStage":
                value = validation.one_of(value, validation.LIFECYCLE_STAGES, argument)
            else:
                value = validation.name(value, argument)
        elif field == "email":
            raise BadUserInput("`input.email` cannot be cleared: the CRM identifies people by it", argument=argument)
        properties[CUSTOMER_PROPERTIES[field]] = value
    return properties


async def _existing(ctx: RequestContext, contact_id: str) -> Contact:
    contact = await ctx.loaders.contact(contact_id) if contact_id.isdigit() else None
    if contact is None:
        raise BadUserInput("No customer has this id", argument="id")
    return contact


async def update_customer(ctx: RequestContext, contact_id: str, changes: dict[str, str | None]) -> Contact:
    properties = customer_changes(changes)
    if not contact_id.isdigit() or not await HubSpotWrites(ctx.sources.hubspot).update_contact(contact_id,
                                                                                                properties):
        raise BadUserInput("No customer has this id", argument="id")
    await ctx.invalidate("hubspot", "contact", contact_id)
    return await _existing(ctx, contact_id)


async def set_email_marketing_consent(ctx: RequestContext, contact_id: str, status: str) -> ConsentChange:
    status = validation.one_of(status, validation.CONSENT_STATUSES, "status")
    contact = await _existing(ctx, contact_id)
    if contact.email is None:
        raise BadUserInput("This customer has no email address to record consent for", argument="id")
    shopify_id = await ctx.loaders.shopify_customer_id_for(contact)  # a read: before any write
    member = await MailchimpWrites(ctx.sources.mailchimp).set_member_status(contact.email, status)
    await ctx.invalidate("mailchimp", "member", contact.email)
    ctx.loaders.member_by_email.prime(contact.email, member)  # the PUT answered the member: no re-read
    shopify_state = None
    if shopify_id is not None:
        customer = await ShopifyWrites(ctx.sources.shopify).set_email_marketing_consent(shopify_id, status)
        await ctx.invalidate("shopify", "customer", shopify_id)
        shopify_state = customer.email_marketing_state if customer else None
    return ConsentChange(contact, member.status, shopify_state)


async def update_campaign_status(ctx: RequestContext, local_id: str, action: str) -> CampaignRecord:
    action = validation.one_of(action, CAMPAIGN_ACTIONS, "action")
    source, _, campaign_id = local_id.partition(":")
    if source == "googleads":
        if action not in ADS_STATUS:
            raise BadUserInput(f"Google Ads campaigns take PAUSE or RESUME, not {action}", argument="action")
        ad = await GoogleAdsWrites(ctx.sources.googleads).set_campaign_status(campaign_id, ADS_STATUS[action])
        if ad is None:
            raise BadUserInput("No campaign has this id", argument="id")
        await ctx.invalidate("googleads", "campaign", campaign_id)
        return from_ads(ad)
    mc: MailchimpCampaign | None = await ctx.loaders.mailchimp_campaign.load(campaign_id) \
        if source == "mailchimp" else None
    if mc is None:
        raise BadUserInput("No campaign has this id", argument="id")
    allowed, needs = MAILCHIMP_RULES[action]
    if not allowed(mc):
        raise BadUserInput(f"Mailchimp allows {action} only for {needs}; this one is a {mc.type} campaign with "
                           f"status {mc.status}", argument="action")
    if not await MailchimpWrites(ctx.sources.mailchimp).campaign_action(campaign_id, action.lower()):
        raise BadUserInput("No campaign has this id", argument="id")
    await ctx.invalidate("mailchimp", "campaign", campaign_id)
    fresh: MailchimpCampaign | None = await ctx.loaders.mailchimp_campaign.load(campaign_id)
    return from_mailchimp(fresh or mc)


async def erase_customer(ctx: RequestContext, contact_id: str) -> ErasureJob:
    """Start (or find) the erasure job; the caller has checked the ``privacy`` scope."""
    assert ctx.writes is not None
    service = ctx.writes.erasure
    if contact_id.isdigit():
        existing = await service.status(contact_id)
        if existing is not None and existing.state != "FAILED":
            return existing  # already erased or under way: asking twice starts nothing new
    # An archived contact is no Customer any more, but still the person's data: erase it too.
    contact = await ctx.loaders.contact(contact_id) if contact_id.isdigit() else None
    contact = contact or await ctx.sources.hubspot.get_contact(contact_id, archived=True)
    if contact is None:
        raise BadUserInput("No customer has this id", argument="id")
    return await service.request(contact, requested_by=ctx.principal.sub)


async def erasure_status(ctx: RequestContext, contact_id: str) -> ErasureJob | None:
    assert ctx.writes is not None
    return await ctx.writes.erasure.status(contact_id) if contact_id.isdigit() else None


def campaign_record_from(data: dict[str, Any]) -> CampaignRecord:
    """A stored (idempotent replay) campaign record back as a record."""
    summary = data.get("summary")
    return CampaignRecord(**{**data, "summary": MailchimpReportSummary(**summary) if summary else None})
