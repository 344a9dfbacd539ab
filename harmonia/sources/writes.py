"""The write side of the connectors, in each API's own write format.

    await HubSpotWrites(sources.hubspot).update_contact("151", {"lifecyclestage": "customer"})   # -> True
    await MailchimpWrites(sources.mailchimp).set_member_status("ada@example.com", "unsubscribed")
    await ShopifyWrites(sources.shopify).set_email_marketing_consent("6200000000", "unsubscribed")
    await GoogleAdsWrites(sources.googleads).set_campaign_status("148", "PAUSED")
    outcome = await HubSpotWrites(sources.hubspot).gdpr_delete("151")   # Erased("DELETED", 204, ...)

Which writes the HTTP layer may retry on its own: those that set a value (HubSpot PATCH, Shopify and
Mailchimp PUT, a Google Ads status update), since sending them twice ends in the same state. Deletes
and Mailchimp campaign actions are never retried here: the erasure job retries its steps itself
and records each attempt, and a repeated ``resume`` would be refused. A refusal caused by the
input (400, 409, 422) becomes ``BadUserInput`` naming the field, never repeating the upstream text.
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

CONSENT_TO_SHOPIFY = {"subscribed": "subscribed", "unsubscribed": "unsubscribed", "pending": "pending"}


@dataclass(frozen=True, slots=True)
class Erased:
    """What a source confirmed for one erasure step."""

    outcome: str      # DELETED | ANONYMISED | ABSENT (the source had no such record: 404)
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
    def __init__(self, store: shopify.ShopifyStore) -> None:
        self.http = store.http
        self.store = store

    def _customer_path(self, customer_id: str) -> str:
        return self.store._path(f"customers/{customer_id}.json")

    async def update_customer(self, customer_id: str, fields: Mapping[str, Any],
                              *, idempotent: bool = True) -> ShopifyCustomer | None:
        if not customer_id.isdigit():
            return None
        response = await self.http.request("PUT", self._customer_path(customer_id),
                                           json={"customer": {"id": int(customer_id), **fields}},
                                           idempotent=idempotent, passthrough=(404, 422))
        if response.status_code == 404:
            return None
        body = _json(shopify.SOURCE, response)
        if response.status_code == 422:
            errors = body.get("errors") if isinstance(body, dict) else None
            names = sorted(errors) if isinstance(errors, dict) else []
            raise BadUserInput(f"Shopify refused the customer update ({', '.join(names) or 'invalid'})")
        if not isinstance(body, dict) or not isinstance(body.get("customer"), dict):
            raise UpstreamUnavailable(shopify.SOURCE, "shopify sent an unexpected body")
        return shopify._customer(body["customer"])

    async def set_email_marketing_consent(self, customer_id: str, status: str) -> ShopifyCustomer | None:
        """The customer's ``email_marketing_consent`` in step with a Mailchimp status."""
        consent = {"state": CONSENT_TO_SHOPIFY[status],
                   "opt_in_level": "confirmed_opt_in" if status == "pending" else "single_opt_in",
                   "consent_updated_at": datetime.now(UTC).isoformat(timespec="seconds")}
        return await self.update_customer(customer_id, {"email_marketing_consent": consent})

    async def erase_customer(self, customer_id: str) -> Erased:
        """Delete the customer; Shopify refuses that (422) once they have orders, so then anonymise."""
        path = self._customer_path(customer_id)
        response = await self.http.request("DELETE", path, idempotent=False, passthrough=(404, 422))
        template = self.store._path("customers/{id}.json")
        if response.status_code == 404:
            return Erased("ABSENT", 404, f"DELETE {template}")
        if response.status_code != 422:
            return Erased("DELETED", response.status_code, f"DELETE {template}")
        # Orders are kept (bookkeeping law); the person behind them is not: every profile field goes.
        anonymous: dict[str, Any] = {"first_name": "Erased", "last_name": "Customer", "email": None,
                                     "phone": None, "note": None, "tags": "", "addresses": [],
                                     "verified_email": False}
        updated = await self.update_customer(customer_id, anonymous, idempotent=False)
        if updated is None:
            return Erased("ABSENT", 404, f"PUT {template}")
        return Erased("ANONYMISED", 200, f"DELETE {template} (422: has orders), then PUT {template}")


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
