"""The Mutation type (writes through to the sources) and the privacy read ``erasureStatus``.

    mutation { updateCustomer(id: $id, input: {lifecycleStage: "customer"}, idempotencyKey: "k-1") {
                 customer { lifecycleStage } replayed } }

Every mutation is a field of ``Mutation`` for the field policy (``Mutation.updateCustomer``, ...);
``eraseCustomer`` and ``erasureStatus`` also need the token's ``privacy`` scope, whatever the roles.
A customer field may be written only by a principal who reads it in clear. All of this is
checked before any upstream call. An idempotency key (the argument, or the request's
``Idempotency-Key`` header plus the field's response key) makes a retry return the first answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from harmonia.errors import Forbidden
from harmonia.resolvers import mutations as writes
from harmonia.resolvers.context import RequestContext
from harmonia.resolvers.erasure_store import ErasureJob as ErasureJobRecord
from harmonia.resolvers.erasure_store import ErasureStep
from harmonia.resolvers.idempotency import check_key, fingerprint
from harmonia.resolvers.ids import decode_id, encode_id
from harmonia.schema.access import require
from harmonia.schema.types import Campaign, Customer, DateTime
from harmonia.sources.records import Contact

PRIVACY_SCOPE = "privacy"
ID_ARG = strawberry.argument(description="A global id from this API.")
KEY_ARG = strawberry.argument(description="Any string unique to this change (e.g. a UUID): a retry with the same "
                                          "key returns the first answer and writes nothing again. Defaults to "
                                          "the request's Idempotency-Key header.")
REPLAYED = "True when this is the stored answer to an earlier call with the same idempotency key: nothing was " \
           "written this time."


@strawberry.input(description="Customer fields to change in the CRM (HubSpot contact properties). Omitted fields "
                              "stay as they are; null clears a field (not email).")
class UpdateCustomerInput:
    email: str | None = strawberry.field(default=strawberry.UNSET, description="A valid email address.")
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description="First name.")
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description="Last name.")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="E.164, e.g. +15551230000.")
    lifecycle_stage: str | None = strawberry.field(
        default=strawberry.UNSET, description="subscriber, lead, marketingqualifiedlead, salesqualifiedlead, "
                                              "opportunity, customer, evangelist or other.")

    def changes(self) -> dict[str, str | None]:
        given = {"email": self.email, "firstName": self.first_name, "lastName": self.last_name,
                 "phone": self.phone, "lifecycleStage": self.lifecycle_stage}
        return {name: value for name, value in given.items() if value is not strawberry.UNSET}


@strawberry.type(description="The result of updateCustomer.")
class UpdateCustomerPayload:
    customer: Customer = strawberry.field(description="The customer as the CRM has it now.")
    replayed: bool = strawberry.field(description=REPLAYED)


@strawberry.type(description="The result of setEmailMarketingConsent.")
class EmailMarketingConsentPayload:
    customer: Customer = strawberry.field(description="The customer.")
    email_marketing_status: str = strawberry.field(description="The Mailchimp list member's status now.")
    shopify_email_marketing_consent: str | None = strawberry.field(
        description="The Shopify customer's email_marketing_consent state now; null without a shop customer.")
    replayed: bool = strawberry.field(description=REPLAYED)


@strawberry.type(description="The result of updateCampaignStatus.")
class UpdateCampaignStatusPayload:
    campaign: Campaign = strawberry.field(description="The campaign with its new status.")
    replayed: bool = strawberry.field(description=REPLAYED)


@strawberry.type(description="One source's part of an erasure.")
class ErasureSourceStatus:
    source: str = strawberry.field(description="hubspot, shopify, mailchimp, ga4 or googleads.")
    state: str = strawberry.field(description="PENDING, RETRYING, CONFIRMED, NOT_APPLICABLE or FAILED.")
    outcome: str | None = strawberry.field(description="What the source confirmed: DELETED, ERASURE_REQUESTED "
                                                       "(Shopify accepted customerRequestDataErasure and redacts "
                                                       "on its own schedule), ABSENT or NOT_APPLICABLE.")
    mechanism: str | None = strawberry.field(description="The API call that did it.")
    http_status: int | None = strawberry.field(description="The HTTP status that confirmed it.")
    target: str | None = strawberry.field(description="The record at the source (contact id, customer id, "
                                                      "subscriber hash).")
    attempts: int = strawberry.field(description="Attempts so far.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed, while retrying.")
    confirmed_at: DateTime | None = strawberry.field(description="When the source confirmed.")

    @staticmethod
    def of(step: ErasureStep | dict[str, Any]) -> ErasureSourceStatus:
        s = step if isinstance(step, dict) else {**asdict(step), "httpStatus": step.http_status,
                                                  "lastError": step.last_error, "confirmedAt": step.confirmed_at}
        return ErasureSourceStatus(source=s["source"], state=s["state"], outcome=s["outcome"],
                                   mechanism=s["mechanism"], http_status=s["httpStatus"], target=s["target"],
                                   attempts=s["attempts"], last_error=s["lastError"],
                                   confirmed_at=DateTime(s["confirmedAt"]) if s["confirmedAt"] else None)


@strawberry.type(description="The audit record an erasure ends with: who asked, when, what each source confirmed.")
class ErasureAudit:
    requested_by: str = strawberry.field(description="The token subject that asked.")
    requested_at: DateTime = strawberry.field(description="When it was asked.")
    completed_at: DateTime = strawberry.field(description="When the last source settled.")
    state: str = strawberry.field(description="COMPLETED, or FAILED when a source never confirmed.")
    sources: list[ErasureSourceStatus] = strawberry.field(description="Each source's confirmation.")


@strawberry.type(description="A person's erasure from every source: a durable job that survives restarts.")
class ErasureJob:
    id: strawberry.ID = strawberry.field(description="The job's id.")
    customer_id: strawberry.ID = strawberry.field(description="The erased customer's global id.")
    state: str = strawberry.field(description="RUNNING, COMPLETED or FAILED.")
    requested_by: str = strawberry.field(description="The token subject that asked.")
    requested_at: DateTime = strawberry.field(description="When it was asked.")
    completed_at: DateTime | None = strawberry.field(description="When it ended.")
    sources: list[ErasureSourceStatus] = strawberry.field(description="Progress per source.")
    audit: ErasureAudit | None = strawberry.field(description="The audit record, once the job has ended.")

    @staticmethod
    def of(job: ErasureJobRecord) -> ErasureJob:
        audit = job.audit
        return ErasureJob(
            id=strawberry.ID(job.id), customer_id=strawberry.ID(encode_id("Customer", job.customer_id)),
            state=job.state, requested_by=job.requested_by, requested_at=DateTime(job.requested_at),
            completed_at=DateTime(job.completed_at) if job.completed_at else None,
            sources=[ErasureSourceStatus.of(s) for s in job.steps],
            audit=ErasureAudit(requested_by=audit["requestedBy"], requested_at=DateTime(audit["requestedAt"]),
                               completed_at=DateTime(audit["completedAt"]), state=audit["state"],
                               sources=[ErasureSourceStatus.of(s) for s in audit["sources"]]) if audit else None)


def _privacy(info: Info[Any, Any], field: str) -> RequestContext:
    ctx = require(info, "Mutation", field)
    if PRIVACY_SCOPE not in ctx.principal.scopes:
        raise Forbidden("Erasure needs the `privacy` scope in the token", requiredScope=PRIVACY_SCOPE)
    return ctx


def _may_write_customer_fields(ctx: RequestContext, fields: list[str]) -> None:
    """A field policy on inputs: write only what you read in clear (a masked reader cannot overwrite)."""
    for field in fields:
        decision = ctx.access.decide("Customer", field)
        if not decision.allowed or decision.mask:
            raise Forbidden(f"Not allowed to write Customer.{field}", requiredRoles=list(decision.missing_roles))


async def _once(info: Info[Any, Any], ctx: RequestContext, mutation: str, key: str | None,
                arguments: dict[str, Any], action: Callable[[], Awaitable[dict[str, Any]]]
                ) -> tuple[dict[str, Any], bool]:
    if key is None and ctx.idempotency_key is not None:
        key = f"{check_key(ctx.idempotency_key)}:{info.path.key}"  # one header, several mutation fields
    if key is None or ctx.writes is None:
        return await action(), False
    scoped = f"{ctx.principal.sub}:{mutation}:{check_key(key)}"
    return await ctx.writes.idempotency.run(scoped, fingerprint(arguments), action)


@strawberry.type(description="Changes written through to the sources, authorized per field, priced like queries "
                             "(base cost 10), consistent with the cache.")
class Mutation:
    @strawberry.mutation(description="Change a customer's CRM fields (HubSpot contact properties, PATCH).")
    async def update_customer(
        self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG],
        input: Annotated[UpdateCustomerInput, strawberry.argument(description="The fields to change.")],
        idempotency_key: Annotated[str | None, KEY_ARG] = None,
    ) -> UpdateCustomerPayload:
        ctx = require(info, "Mutation", "updateCustomer")
        _, local = decode_id(id, "Customer")
        changes = input.changes()
        _may_write_customer_fields(ctx, list(changes))
        writes.customer_changes(changes)  # BAD_USER_INPUT before any key is claimed or call made

        async def write() -> dict[str, Any]:
            return asdict(await writes.update_customer(ctx, local, changes))

        stored, replayed = await _once(info, ctx, "updateCustomer", idempotency_key,
                                       {"id": local, "input": changes}, write)
        return UpdateCustomerPayload(customer=Customer.of(Contact(**stored)), replayed=replayed)

    @strawberry.mutation(description="Record an email-marketing consent change: the Mailchimp list member's status, "
                                     "with the Shopify customer's email_marketing_consent kept in step.")
    async def set_email_marketing_consent(
        self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG],
        status: Annotated[str, strawberry.argument(description="subscribed, unsubscribed or pending.")],
        idempotency_key: Annotated[str | None, KEY_ARG] = None,
    ) -> EmailMarketingConsentPayload:
        ctx = require(info, "Mutation", "setEmailMarketingConsent")
        _, local = decode_id(id, "Customer")
        _may_write_customer_fields(ctx, ["emailMarketingStatus"])

        async def write() -> dict[str, Any]:
            change = await writes.set_email_marketing_consent(ctx, local, status)
            return {"contact": asdict(change.contact), "status": change.mailchimp_status,
                    "shopify": change.shopify_state}

        stored, replayed = await _once(info, ctx, "setEmailMarketingConsent", idempotency_key,
                                       {"id": local, "status": status.strip().lower()}, write)
        return EmailMarketingConsentPayload(customer=Customer.of(Contact(**stored["contact"])),
                                            email_marketing_status=stored["status"],
                                            shopify_email_marketing_consent=stored["shopify"], replayed=replayed)

    @strawberry.mutation(description="Pause or resume a campaign (Google Ads status; Mailchimp pause/resume for RSS "
                                     "campaigns), or unschedule a scheduled Mailchimp campaign.")
    async def update_campaign_status(
        self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG],
        action: Annotated[str, strawberry.argument(description="PAUSE, RESUME or UNSCHEDULE.")],
        idempotency_key: Annotated[str | None, KEY_ARG] = None,
    ) -> UpdateCampaignStatusPayload:
        ctx = require(info, "Mutation", "updateCampaignStatus")
        _, local = decode_id(id, "Campaign")

        async def write() -> dict[str, Any]:
            return asdict(await writes.update_campaign_status(ctx, local, action))

        stored, replayed = await _once(info, ctx, "updateCampaignStatus", idempotency_key,
                                       {"id": local, "action": action.strip().upper()}, write)
        return UpdateCampaignStatusPayload(campaign=Campaign.of(writes.campaign_record_from(stored)),
                                           replayed=replayed)

    @strawberry.mutation(description="Erase a person from every source (HubSpot GDPR delete, Mailchimp permanent "
                                     "delete, Shopify customerRequestDataErasure). Needs the `privacy` scope. Returns "
                                     "at once; follow progress with Query.erasureStatus.")
    async def erase_customer(self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG]) -> ErasureJob:
        ctx = _privacy(info, "eraseCustomer")
        _, local = decode_id(id, "Customer")
        return ErasureJob.of(await writes.erase_customer(ctx, local))


@strawberry.type(description="Privacy reads.")
class PrivacyQuery:
    @strawberry.field(description="The erasure job of a customer (by the customer's id), with progress per source "
                                  "and, once ended, its audit record. Needs the `privacy` scope.")
    async def erasure_status(self, info: Info[Any, Any], id: Annotated[strawberry.ID, ID_ARG]) -> ErasureJob | None:
        ctx = _privacy(info, "eraseCustomer")
        _, local = decode_id(id, "Customer")
        job = await writes.erasure_status(ctx, local)
        return ErasureJob.of(job) if job else None
