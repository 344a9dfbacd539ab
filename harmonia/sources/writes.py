"""The write side of the connectors, in each API's own write format.

    await HubSpotWrites(sources.hubspot).update_contact("151", {"lifecyclestage": "customer"})   # -> True
    await MailchimpWrites(sources.mailchimp).set_member_status("ada@example.com", "unsubscribed")
    await ShopifyWrites(sources.shopify).set_email_marketing_consent("6200000000", "unsubscribed")
    await GoogleAdsWrites(sources.googleads).set_campaign_status("148", "PAUSED")
    outcome = await HubSpotWrites(sources.hubspot).gdpr_delete("151")   # Erased("DELETED", 204, ...)

Which writes the HTTP layer may retry on its own: those that set a value (HubSpot PATCH, Shopify's
consent mutation, Mailchimp PUT, a Google Ads status update), since sending them twice ends in the
same state. Deletes, Shopify's erasure request and Mailchimp campaign actions are never retried
here: the erasure job retries its steps itself and records each attempt, and a repeated ``resume``
would be refused. A refusal caused by the input (400, 409, 422, Shopify's ``userErrors``) becomes
``BadUserInput`` naming the field, never repeating the upstream text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from harmonia.errors import BadUserInput, UpstreamUnavailable
from harmonia.sources import googleads, hubspot, mailchimp, shopify
from harmonia.sources.normalize import normalize_email
from harmonia.sources.records import AdsCampaign, MailchimpMember, ShopifyCustomer
from harmonia.sources.shopify_documents import MUTATION_COST
from harmonia.sources.shopify_records import decode_customer
from harmonia.sources.shopify_records import gid as shopify_gid

CONSENT_TO_SHOPIFY = {"subscribed": "SUBSCRIBED", "unsubscribed": "UNSUBSCRIBED", "pending": "PENDING"}
# The customer read back: its id and the state now (upstreams.md's CustomerEmailAddress fields).
SET_CONSENT = ("mutation HarmoniaSetConsent($input: CustomerEmailMarketingConsentUpdateInput!) { "
               "customerEmailMarketingConsentUpdate(input: $input) { customer { id defaultEmailAddress { "
               "emailAddress marketingState } } userErrors { field message code } } }")
SET_CONSENT_COST = MUTATION_COST + 2
REQUEST_ERASURE = ("mutation HarmoniaEraseCustomer($customerId: ID!) { customerRequestDataErasure("
                   "customerId: $customerId) { customerId userErrors { field message code } } }")
REQUEST_ERASURE_COST = MUTATION_COST
ERASURE = "customerRequestDataErasure"


@dataclass(frozen=True, slots=True)
class Erased:
    """What a source confirmed for one erasure step."""

    outcome: str      # DELETED | ERASURE_REQUESTED (Shopify redacts later) | ABSENT (no such record)
    status: int       # the HTTP status that confirmed it
    mechanism: str    # the API call, e.g. "POST /crm/objects/2026-09/contacts/gdpr-delete"


def _json(source: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UpstreamUnavailable(source, f"{source} sent a response Harmonia could not read") from None


class HubSpotWrites:
    def __init__(self, contacts: hubspot.HubSpotContacts) -> None:
        self.http = contacts.http
        self.path = contacts.objects_path

    async def update_contact(self, contact_id: str, properties: Mapping[str, str | None]) -> bool:
        """PATCH the named properties (None clears one); False when there is no such contact.

        HubSpot answers with only the properties it touched, so callers read the contact back."""
        response = await self.http.request("PATCH", f"{self.path}/{quote(contact_id, safe='')}",
                                           json={"properties": {k: ("" if v is None else v)
                                                                for k, v in properties.items()}},
                                           idempotent=True, passthrough=(400, 404, 409))
        if response.status_code == 404:
            return False
        if response.status_code == 409:
            raise BadUserInput("Another customer already has this email address", argument="input.email")
        if response.status_code == 400:
            body = _json(hubspot.SOURCE, response)
            codes = sorted({str(e.get("code")) for e in body.get("errors") or [] if isinstance(e, dict)}
                           if isinstance(body, dict) else set())
            raise BadUserInput(f"HubSpot refused the new values ({', '.join(codes) or 'VALIDATION_ERROR'})")
        return True

    async def gdpr_delete(self, contact_id: str) -> Erased:
        mechanism = f"POST {self.path}/gdpr-delete"
        response = await self.http.request("POST", f"{self.path}/gdpr-delete", json={"objectId": contact_id},
                                           idempotent=False)
        if response.status_code == 404:
            return Erased("ABSENT", 404, mechanism)
        return Erased("DELETED", response.status_code, mechanism)


class ShopifyWrites:
    """Customer writes through the GraphQL Admin API's mutations (refusals are ``userErrors``)."""

    def __init__(self, store: shopify.ShopifyStore) -> None:
        self.store = store
        self.admin = store.admin

    async def set_email_marketing_consent(self, customer_id: str, status: str) -> ShopifyCustomer | None:
        """The customer's email marketing consent in step with a Mailchimp status; None when the shop has
        no such customer. Setting a state is idempotent, so the HTTP layer may retry it."""
        if not customer_id.isdigit():
            return None
        consent = {"marketingState": CONSENT_TO_SHOPIFY[status],
                   "marketingOptInLevel": "CONFIRMED_OPT_IN" if status == "pending" else "SINGLE_OPT_IN",
                   "consentUpdatedAt": datetime.now(UTC).isoformat(timespec="seconds")}
        data = await self.admin.run(SET_CONSENT, {"input": {"customerId": shopify_gid("Customer", customer_id),
                                                            "emailMarketingConsent": consent}},
                                    SET_CONSENT_COST)
        payload = data.get("customerEmailMarketingConsentUpdate")
        if not isinstance(payload, dict):
            raise BadUserInput("Shopify refused the consent change")
        errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
        if any(e.get("field") == ["input", "customerId"] for e in errors):
            return None
        if errors:
            fields = sorted({".".join(e.get("field") or []) or "input" for e in errors})
            raise BadUserInput(f"Shopify refused the consent change ({', '.join(fields)})")
        return decode_customer(payload.get("customer"))

    async def erase_customer(self, customer_id: str) -> Erased:
        """Ask Shopify to erase the customer's personal data (it keeps what was sold, when and for how
        much, and redacts on its own schedule); ABSENT when the shop has no such customer."""
        if not customer_id.isdigit():
            return Erased("ABSENT", 200, ERASURE)
        data = await self.admin.run(REQUEST_ERASURE, {"customerId": shopify_gid("Customer", customer_id)},
                                    REQUEST_ERASURE_COST, write=True)
        payload = data.get("customerRequestDataErasure")
        if not isinstance(payload, dict):
            raise UpstreamUnavailable(shopify.SOURCE, "shopify did not confirm the erasure request")
        codes = {e.get("code") for e in payload.get("userErrors") or [] if isinstance(e, dict)}
        if "DOES_NOT_EXIST" in codes:
            return Erased("ABSENT", 200, ERASURE)
        if codes or not payload.get("customerId"):
            raise UpstreamUnavailable(shopify.SOURCE, "shopify could not take the erasure request now")
        return Erased("ERASURE_REQUESTED", 200, ERASURE)


class MailchimpWrites:
    def __init__(self, account: mailchimp.MailchimpAccount) -> None:
        self.http = account.http
        self.list_id = account.list_id

    def _member_path(self, subscriber_hash: str) -> str:
        return f"/3.0/lists/{quote(self.list_id, safe='')}/members/{subscriber_hash}"

    async def set_member_status(self, email: str, status: str) -> MailchimpMember:
        """PUT: adds the address with ``status`` when it is not on the list yet, else changes its status."""
        normalized = normalize_email(email) or ""
        response = await self.http.request(
            "PUT", self._member_path(mailchimp.subscriber_hash(normalized)),
            json={"email_address": normalized, "status_if_new": status, "status": status},
            idempotent=True, passthrough=(400,))
        body = _json(mailchimp.SOURCE, response)
        if response.status_code == 400:
            title = body.get("title") if isinstance(body, dict) else None
            if title == "Forgotten Email Not Subscribed":
                raise BadUserInput("This address was permanently erased from Mailchimp; the person must "
                                   "subscribe again themselves")
            raise BadUserInput("Mailchimp refused the status change")
        try:
            return mailchimp._member(body, self.list_id)
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(mailchimp.SOURCE, "mailchimp sent a member Harmonia could not read") from exc

    async def delete_member_permanently(self, subscriber_hash: str) -> Erased:
        template = f"POST /3.0/lists/{self.list_id}/members/{{subscriber_hash}}/actions/delete-permanent"
        response = await self.http.request("POST", f"{self._member_path(subscriber_hash)}/actions/delete-permanent",
                                           idempotent=False)
        if response.status_code == 404:
            return Erased("ABSENT", 404, template)
        return Erased("DELETED", response.status_code, template)

    async def campaign_action(self, campaign_id: str, action: str) -> bool:
        """POST ``/campaigns/{id}/actions/{action}``; False when Mailchimp has no such campaign."""
        response = await self.http.request("POST", f"/3.0/campaigns/{quote(campaign_id, safe='')}/actions/{action}",
                                           idempotent=False, passthrough=(400, 404))
        if response.status_code == 400:
            raise BadUserInput(f"Mailchimp does not allow {action} for this campaign now")
        return response.status_code != 404


class GoogleAdsWrites:
    def __init__(self, account: googleads.GoogleAdsAccount) -> None:
        self.account = account
        self.http = account.http

    async def set_campaign_status(self, campaign_id: str, status: str) -> AdsCampaign | None:
        """``campaigns:mutate`` with one status update; None when the account has no such campaign."""
        cid = self.account.customer_id
        operation = {"update": {"resourceName": f"customers/{cid}/campaigns/{campaign_id}", "status": status},
                     "updateMask": "status"}
        response = await self.http.request(
            "POST", f"/{self.account.api_version}/customers/{cid}/campaigns:mutate",
            json={"operations": [operation], "responseContentType": "MUTABLE_RESOURCE"},
            idempotent=True, passthrough=(400,))
        body = _json(googleads.SOURCE, response)
        if response.status_code == 400:
            error = googleads._error_of(body) or {"code": 400}
            codes = [value for f in googleads._failures(error) for value in (f.get("errorCode") or {}).values()]
            if "RESOURCE_NOT_FOUND" in codes:
                return None
            reasons = sorted({c for c in codes if isinstance(c, str) and googleads._REASON.match(c)})
            raise BadUserInput(f"Google Ads refused the status change ({', '.join(reasons) or 'INVALID_ARGUMENT'})")
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise UpstreamUnavailable(googleads.SOURCE, "googleads sent a response Harmonia could not read")
        return googleads._campaign(results[0])
