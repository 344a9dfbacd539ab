"""One cheap call per source, read for what ``harmonia doctor`` reports: scopes, version, quota headroom.

    row = await check_hubspot(sources.hubspot, settings.sources.hubspot, today)

HubSpot: a one-contact page (its ``X-HubSpot-RateLimit-*`` headers) and, for an OAuth token, HubSpot's
access-token metadata (its scopes). Shopify: its connector's shop query (``currentAppInstallation
{ accessScopes { handle } }`` on the GraphQL Admin API) and the throttle status it reported. Mailchimp:
one list member. GA4: a one-row report asking for ``propertyQuota``. Google Ads: a one-row GAQL query.
Nothing here writes anything.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from harmonia.credentials import AccessToken
from harmonia.doctor.common import (
    CALL_SECONDS,
    call,
    check_credential,
    check_version,
    credentials_failed,
    refused,
    refused_by_api,
    scopes_cell,
    setting,
    short,
)
from harmonia.doctor.report import FAIL, OK, SKIP, WARN, SourceRow
from harmonia.errors import HarmoniaError, UpstreamAuthFailed
from harmonia.settings import GA4Settings, GoogleAdsSettings, HubSpotSettings, MailchimpSettings, ShopifySettings
from harmonia.sources._http import read_json
from harmonia.sources.deadline import operation_deadline
from harmonia.sources.ga4 import GA4Property
from harmonia.sources.googleads import GoogleAdsAccount
from harmonia.sources.hubspot import HubSpotContacts
from harmonia.sources.mailchimp import MailchimpAccount
from harmonia.sources.shopify import ShopifyStore

GA4_SCOPES = {"https://www.googleapis.com/auth/analytics.readonly", "https://www.googleapis.com/auth/analytics"}
ADS_SCOPE = "https://www.googleapis.com/auth/adwords"




def _json(response: Any) -> Any:
    try:
        return read_json(response)
    except ValueError:
        return None


async def check_hubspot(contacts: HubSpotContacts, settings: HubSpotSettings, today: date) -> SourceRow:
    row = SourceRow("hubspot")
    credential = contacts.http.credential
    token = await check_credential(row, "hubspot", credential)
    check_version(row, "hubspot", settings.api_version, today)
    if credentials_failed(row):
        return row
    response = await call(row, "hubspot", contacts.http, "GET", contacts.objects_path,
                          params={"limit": 1, "properties": "email", "archived": "false"})
    if response is None or refused(row, "hubspot", response, credential):
        return row
    if response.status_code == 404:
        row.set("version", FAIL, f"{settings.api_version} (not served)")
        row.problem(FAIL, f"HubSpot does not serve API version {settings.api_version}",
                    f"set {setting('hubspot', 'API_VERSION')}=2026-09")
    elif response.status_code == 403:
        row.set("scopes", FAIL, "missing crm.objects.contacts.read")
        row.problem(FAIL, "the token may not read contacts", "add crm.objects.contacts.read to the app's scopes")
    headers = response.headers
    if "X-HubSpot-RateLimit-Remaining" in headers:
        left, size = int(headers["X-HubSpot-RateLimit-Remaining"]), int(headers.get("X-HubSpot-RateLimit-Max", 0))
        seconds = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", 10000)) / 1000
        daily = (f", {headers['X-HubSpot-RateLimit-Daily-Remaining']}/{headers['X-HubSpot-RateLimit-Daily']} today"
                 if "X-HubSpot-RateLimit-Daily" in headers else "")
        row.set("quota", WARN if size and left < size / 10 else OK, f"{left}/{size} per {seconds:g} s{daily}")
    else:
        row.set("quota", SKIP, "not reported")
    if token is not None and token.expires_at is not None and "scopes" not in row.cells:
        await _hubspot_scopes(row, contacts, token)
    elif "scopes" not in row.cells:
        row.set("scopes", SKIP if response.status_code == 200 else FAIL, "not reported (pasted token)")
    return row


async def _hubspot_scopes(row: SourceRow, contacts: HubSpotContacts, token: AccessToken) -> None:
    response = await call(row, "hubspot", contacts.http, "GET", f"/oauth/v1/access-tokens/{token.value}")
    body = _json(response) if response is not None and response.status_code == 200 else None
    granted = set(body.get("scopes") or []) if isinstance(body, dict) else set()
    if not isinstance(body, dict):
        row.set("scopes", SKIP, "not reported")
        return
    scopes_cell(row, granted, {"crm.objects.contacts.read": "customers cannot be read"},
                {"crm.objects.contacts.write": "customer updates and erasure fail"},
                "add {scope} to the app's scopes, then authorize it again")


async def check_shopify(store: ShopifyStore, settings: ShopifySettings, today: date) -> SourceRow:
    row = SourceRow("shopify")
    credential = store.http.credential
    await check_credential(row, "shopify", credential)
    check_version(row, "shopify", settings.api_version, today)
    if row.cells.get("credentials", (OK,))[0] != OK:
        return row
    try:
        with operation_deadline(CALL_SECONDS):
            shop = await store.shop()  # the shop's name and plan, and the app's access scopes
    except UpstreamAuthFailed:
        refused_by_api(row, "shopify", credential)
        return row
    except HarmoniaError as exc:
        row.problem(FAIL, f"Shopify did not answer the shop query ({exc.code})",
                    f"check {setting('shopify', 'BASE_URL')} names the shop (https://{{shop}}.myshopify.com) "
                    f"and {setting('shopify', 'API_VERSION')} is a version it serves")
        return row
    scopes_cell(row, shop.scopes, {"read_orders": "orders cannot be read", "read_customers": "customers cannot be read",
                                   "read_all_orders": "only the last 60 days of orders are visible, so totals and "
                                                      "counts come out short"},
                {"write_customers": "consent updates and erasure fail"},
                "add {scope} to the app's access scopes (Dev Dashboard > app > Versions), release it and "
                "approve it on the shop")
    throttle = store.throttle_status()
    if throttle is not None:
        row.set("quota", WARN if throttle.available < throttle.maximum / 10 else OK,
                f"{throttle.available:g}/{throttle.maximum:g} points, +{throttle.restore_rate:g}/s")
    return row


async def check_mailchimp(account: MailchimpAccount, settings: MailchimpSettings, today: date) -> SourceRow:
    row = SourceRow("mailchimp")
    row.set("credentials", OK, "API key")
    row.set("scopes", SKIP, "none (API key)")
    check_version(row, "mailchimp", "3.0", today)
    response = await call(row, "mailchimp", account.http, "GET", f"/3.0/lists/{settings.list_id}/members",
                          params={"count": 1, "fields": "total_items"})
    if response is None:
        return row
    if response.status_code in (401, 403):
        row.set("credentials", FAIL, "API key refused")
        row.problem(FAIL, "Mailchimp refused the API key", f"set {setting('mailchimp', 'API_KEY')} to a current key "
                    "(Account > Extras > API keys); its -usN suffix must match BASE_URL's data centre")
    elif response.status_code == 404:
        row.problem(FAIL, f"list {settings.list_id} does not exist in this account",
                    f"set {setting('mailchimp', 'LIST_ID')} (Audience > Settings > Audience name and defaults)")
    row.set("quota", SKIP, "not reported (10 connections at once)")
    return row


async def check_ga4(ga4: GA4Property, settings: GA4Settings, today: date) -> SourceRow:
    row = SourceRow("ga4")
    credential = ga4.http.credential
    token = await check_credential(row, "ga4", credential)
    check_version(row, "ga4", settings.api_version, today)
    _google_scopes(row, "ga4", token, GA4_SCOPES, "reports cannot be read")
    if credentials_failed(row):
        return row
    yesterday = (today - timedelta(days=1)).isoformat()
    path = f"/{settings.api_version}/properties/{ga4.property_id}:runReport"
    response = await call(row, "ga4", ga4.http, "POST", path,
                          json={"dateRanges": [{"startDate": yesterday, "endDate": yesterday}],
                                "metrics": [{"name": "sessions"}], "limit": "1", "returnPropertyQuota": True})
    if response is None or refused(row, "ga4", response, credential):
        return row
    if response.status_code == 403:
        row.problem(FAIL, f"no access to property {ga4.property_id}", "grant the service account (or user) the "
                    "Viewer role on the property (GA4 Admin > Property access management)")
        return row
    quota = (_json(response) or {}).get("propertyQuota") or {}
    hour, day = quota.get("tokensPerHour") or {}, quota.get("tokensPerDay") or {}
    if "remaining" in hour:
        low = min(hour["remaining"], day.get("remaining", hour["remaining"])) < settings.quota_headroom
        row.set("quota", WARN if low else OK, f"{hour['remaining']} tokens/h, {day.get('remaining', '?')}/day, "
                f"{(quota.get('concurrentRequests') or {}).get('remaining', '?')} concurrent")
    return row


async def check_googleads(ads: GoogleAdsAccount, settings: GoogleAdsSettings, today: date) -> SourceRow:
    row = SourceRow("googleads")
    credential = ads.http.credential
    token = await check_credential(row, "googleads", credential)
    check_version(row, "googleads", settings.api_version, today)
    _google_scopes(row, "googleads", token, {ADS_SCOPE}, "campaigns cannot be read")
    if credentials_failed(row):
        return row
    path = f"/{settings.api_version}/customers/{ads.customer_id}/googleAds:searchStream"
    response = await call(row, "googleads", ads.http, "POST", path,
                          json={"query": "SELECT campaign.id FROM campaign LIMIT 1"})
    row.set("quota", SKIP, f"not reported (paced at {settings.requests_per_second:g}/s)")
    if response is None or response.status_code == 200:
        return row
    text = response.text
    if "UNSUPPORTED_VERSION" in text:
        row.set("version", FAIL, f"{settings.api_version} (refused: UNSUPPORTED_VERSION)")
        row.problem(FAIL, f"Google Ads no longer serves {settings.api_version}",
                    f"set {setting('googleads', 'API_VERSION')}=v26")
    elif "DEVELOPER_TOKEN" in text:
        row.problem(FAIL, "the developer token was refused", f"set {setting('googleads', 'DEVELOPER_TOKEN')} "
                    "(Google Ads > Tools > API Center)")
    elif not refused(row, "googleads", response, credential) and response.status_code == 403:
        row.problem(FAIL, f"no access to customer {ads.customer_id}",
                    f"set {setting('googleads', 'LOGIN_CUSTOMER_ID')} to the manager account, or grant the user "
                    "access to the customer")
    return row


def _google_scopes(row: SourceRow, source: str, token: AccessToken | None, accepted: set[str], lost: str) -> None:
    if token is None or token.expires_at is None:
        row.set("scopes", SKIP, "not reported (pasted token)" if token is not None else "")
        return
    needed = sorted(accepted)[-1] if source == "ga4" else ADS_SCOPE
    granted = {needed} if token.scopes & accepted else set(token.scopes)
    scopes_cell(row, granted, {needed: lost}, {},
                "authorize the app again including " + short(needed) + " (or grant it to the service account)")
