"""The simulated token endpoints and the APIs' answers to issued tokens, on the wire as the vendors send them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.oauth import ADS_SCOPE, DEMO_OAUTH, GA4_SCOPE

BASE = "http://simulators"
GOOGLE, HUBSPOT, SHOPIFY = DEMO_OAUTH["google"], DEMO_OAUTH["hubspot"], DEMO_OAUTH["shopify"]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ADS_STREAM = f"/googleads/v26/customers/{DEMO_CREDENTIALS['googleads_customer_id']}/googleAds:searchStream"
GA4_REPORT = f"/ga4/v1beta/properties/{DEMO_CREDENTIALS['ga4_property_id']}:runReport"
SHOPIFY_GRAPHQL = "/shopify/admin/api/2026-10/graphql.json"
SCOPES_QUERY = {"query": "{ currentAppInstallation { accessScopes { handle } } }"}
REPORT = {"dateRanges": [{"startDate": "2024-05-01", "endDate": "2024-05-02"}], "metrics": [{"name": "sessions"}]}


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    state = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_simulator_app(state=state)),
                                 base_url=BASE) as c:
        yield c


async def google_refresh(client: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": GOOGLE["client_id"],
            "client_secret": GOOGLE["client_secret"], "refresh_token": GOOGLE["refresh_token"], **overrides}
    return await client.post("/google/token", data=form)


async def assertion_answer(client: httpx.AsyncClient, **claims: Any) -> httpx.Response:
    key = (await client.get("/__oauth/service-account.json")).json()
    now = int(time.time())
    payload = {"iss": key["client_email"], "scope": GA4_SCOPE, "aud": key["token_uri"], "iat": now,
               "exp": now + 3600, **claims}
    signed = jwt.encode({k: v for k, v in payload.items() if v is not None}, key["private_key"], algorithm="RS256",
                        headers={"kid": key["private_key_id"]})
    return await client.post("/google/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                                     "assertion": signed})


async def test_google_refresh_answers_a_bearer_token_with_its_scopes(client: httpx.AsyncClient) -> None:
    response = await google_refresh(client)
    body = response.json()
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["access_token"].startswith("ya29.") and body["expires_in"] == 3599
    assert body["token_type"] == "Bearer" and set(body["scope"].split()) == {GA4_SCOPE, ADS_SCOPE}


@pytest.mark.parametrize(("overrides", "status", "error"), [
    ({"refresh_token": "1//not-issued"}, 400, "invalid_grant"),
    ({"client_secret": "wrong"}, 401, "invalid_client"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type"),
])
async def test_google_refusals_are_googles_error_pairs(client: httpx.AsyncClient, overrides: dict[str, str],
                                                       status: int, error: str) -> None:
    response = await google_refresh(client, **overrides)
    assert response.status_code == status
    assert set(response.json()) == {"error", "error_description"} and response.json()["error"] == error


async def test_a_service_account_assertion_is_verified_and_answered_without_scope(client: httpx.AsyncClient) -> None:
    response = await assertion_answer(client)
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "expires_in", "token_type"}


@pytest.mark.parametrize(("claims", "description"), [
    ({"exp": int(time.time()) + 7200}, "Token must be a short-lived token (60 minutes)"),
    ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "reasonable timeframe"),
    ({"aud": "https://oauth2.googleapis.com/token"}, "Failed audience check"),
    ({"iss": "someone-else@demo-project.iam.gserviceaccount.com"}, "account not found"),
])
async def test_a_bad_assertion_is_refused_with_googles_invalid_grant(
        client: httpx.AsyncClient, claims: dict[str, Any], description: str) -> None:
    response = await assertion_answer(client, **claims)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert description in response.json()["error_description"]


async def test_a_tampered_assertion_fails_the_signature_check(client: httpx.AsyncClient) -> None:
    key = (await client.get("/__oauth/service-account.json")).json()
    now = int(time.time())
    good = jwt.encode({"iss": key["client_email"], "scope": GA4_SCOPE, "aud": key["token_uri"], "iat": now,
                       "exp": now + 3600}, key["private_key"], algorithm="RS256")
    head, _, signature = good.split(".")
    forged_claims = jwt.utils.base64url_encode(json.dumps(
        {"iss": key["client_email"], "scope": ADS_SCOPE, "aud": key["token_uri"], "iat": now,
         "exp": now + 3600}).encode()).decode()
    response = await client.post("/google/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": f"{head}.{forged_claims}.{signature}"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}


async def test_hubspot_refresh_returns_the_same_refresh_token_and_a_30_minute_token(client: httpx.AsyncClient) -> None:
    form = {"grant_type": "refresh_token", "client_id": HUBSPOT["client_id"], "client_secret": HUBSPOT["client_secret"],
            "refresh_token": HUBSPOT["refresh_token"]}
    body = (await client.post("/hubspot/oauth/v1/token", data=form)).json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    assert body["refresh_token"] == HUBSPOT["refresh_token"]
    info = (await client.get(f"/hubspot/oauth/v1/access-tokens/{body['access_token']}")).json()
    assert "crm.objects.contacts.read" in info["scopes"] and 0 < info["expires_in"] <= 1800
    refused = await client.post("/hubspot/oauth/v1/token", data={**form, "refresh_token": "nope"})
    assert refused.status_code == 400 and refused.json()["status"] == "BAD_REFRESH_TOKEN"


async def test_shopify_refresh_tokens_are_single_use_and_rotate(client: httpx.AsyncClient) -> None:
    form = {"grant_type": "refresh_token", "client_id": SHOPIFY["client_id"], "client_secret": SHOPIFY["client_secret"],
            "refresh_token": SHOPIFY["refresh_token"]}
    first = await client.post("/shopify/admin/oauth/access_token", json=form)  # JSON, as @shopify/shopify-api sends
    body = first.json()
    assert first.status_code == 200 and body["expires_in"] == 3600 and body["refresh_token"] != form["refresh_token"]
    assert body["refresh_token_expires_in"] == 90 * 24 * 3600 and "read_all_orders" in body["scope"].split(",")
    replay = await client.post("/shopify/admin/oauth/access_token", data=form)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    following = await client.post("/shopify/admin/oauth/access_token",
                                  data={**form, "refresh_token": body["refresh_token"]})
    assert following.status_code == 200


async def test_shopify_client_credentials_give_a_day_long_token(client: httpx.AsyncClient) -> None:
    form = {"grant_type": "client_credentials", "client_id": SHOPIFY["client_id"],
            "client_secret": SHOPIFY["client_secret"]}
    body = (await client.post("/shopify/admin/oauth/access_token", data=form)).json()
    assert body["access_token"].startswith("shpat_") and body["expires_in"] == 86399 and "refresh_token" not in body
    wrong = await client.post("/shopify/admin/oauth/access_token", data={**form, "client_secret": "x"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


async def test_an_expired_token_gets_each_apis_own_401(client: httpx.AsyncClient) -> None:
    await client.post("/__oauth", json={"lifetime_seconds": 1})
    google = (await google_refresh(client)).json()["access_token"]
    hubspot = (await client.post("/hubspot/oauth/v1/token", data={
        "grant_type": "refresh_token", "client_id": HUBSPOT["client_id"], "client_secret": HUBSPOT["client_secret"],
        "refresh_token": HUBSPOT["refresh_token"]})).json()["access_token"]
    shopify = (await client.post("/shopify/admin/oauth/access_token", data={
        "grant_type": "client_credentials", "client_id": SHOPIFY["client_id"],
        "client_secret": SHOPIFY["client_secret"]})).json()["access_token"]
    bearer = {"Authorization": f"Bearer {google}"}
    assert (await client.post(GA4_REPORT, json=REPORT, headers=bearer)).status_code == 200
    await asyncio.sleep(1.3)
    ga4 = await client.post(GA4_REPORT, json=REPORT, headers=bearer)
    assert ga4.status_code == 401 and ga4.json()["error"]["status"] == "UNAUTHENTICATED"
    assert ga4.headers["www-authenticate"].startswith("Bearer")
    ads = await client.post(ADS_STREAM, json={"query": "SELECT campaign.id FROM campaign"},
                            headers={**bearer, "developer-token": DEMO_CREDENTIALS["googleads_developer_token"]})
    assert ads.status_code == 401
    assert ads.json()["error"]["details"][0]["errors"][0]["errorCode"] == {"authenticationError": "OAUTH_TOKEN_EXPIRED"}
    crm = await client.get("/hubspot/crm/objects/2026-09/contacts", headers={"Authorization": f"Bearer {hubspot}"})
    assert crm.status_code == 401 and crm.json()["category"] == "EXPIRED_AUTHENTICATION"
    shop = await client.post(SHOPIFY_GRAPHQL, json=SCOPES_QUERY, headers={"X-Shopify-Access-Token": shopify})
    assert shop.status_code == 401 and shop.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    assert (await client.get("/__oauth")).json()["api_refusals"] == {
        "ga4 expired": 1, "googleads expired": 1, "hubspot expired": 1, "shopify expired": 1}


async def test_a_token_without_the_apis_scope_is_refused_as_google_does(client: httpx.AsyncClient) -> None:
    await client.post("/__oauth/clients", json={"issuer": "google", "client_id": "ads-only", "client_secret": "s",
                                                "scopes": [ADS_SCOPE], "refresh_token": "1//ads-only"})
    token = (await google_refresh(client, client_id="ads-only", client_secret="s",
                                  refresh_token="1//ads-only")).json()["access_token"]
    response = await client.post(GA4_REPORT, json=REPORT, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


async def test_a_live_shopify_token_reaches_the_graphql_admin_api(client: httpx.AsyncClient) -> None:
    token = (await client.post("/shopify/admin/oauth/access_token", data={
        "grant_type": "client_credentials", "client_id": SHOPIFY["client_id"],
        "client_secret": SHOPIFY["client_secret"]})).json()["access_token"]
    answer = await client.post(SHOPIFY_GRAPHQL, json=SCOPES_QUERY, headers={"X-Shopify-Access-Token": token})
    handles = {s["handle"] for s in answer.json()["data"]["currentAppInstallation"]["accessScopes"]}
    assert answer.status_code == 200 and "read_all_orders" in handles


async def test_a_shopify_token_answers_with_its_own_scopes_and_their_order_window(client: httpx.AsyncClient) -> None:
    # An app installed without read_all_orders: its tokens say so, and see only the last 60 days of orders.
    await client.post("/__oauth/clients", json={"issuer": "shopify", "client_id": "narrow", "client_secret": "s",
                                                "scopes": ["read_orders", "read_customers"]})
    narrow = (await client.post("/shopify/admin/oauth/access_token", data={
        "grant_type": "client_credentials", "client_id": "narrow", "client_secret": "s"})).json()["access_token"]
    wide = (await client.post("/shopify/admin/oauth/access_token", data={
        "grant_type": "client_credentials", "client_id": SHOPIFY["client_id"],
        "client_secret": SHOPIFY["client_secret"]})).json()["access_token"]
    count = {"query": "{ ordersCount(limit: null) { count } }"}

    answers = {}
    for name, token in (("narrow", narrow), ("wide", wide)):
        headers = {"X-Shopify-Access-Token": token}
        scopes = (await client.post(SHOPIFY_GRAPHQL, json=SCOPES_QUERY, headers=headers)).json()
        orders = (await client.post(SHOPIFY_GRAPHQL, json=count, headers=headers)).json()
        answers[name] = ({s["handle"] for s in scopes["data"]["currentAppInstallation"]["accessScopes"]},
                         orders["data"]["ordersCount"]["count"])

    assert answers["narrow"][0] == {"read_orders", "read_customers"}
    assert "read_all_orders" in answers["wide"][0]
    assert 0 < answers["narrow"][1] < answers["wide"][1]


async def test_hubspot_date_versioned_paths_answer_as_the_v3_ones(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {DEMO_CREDENTIALS['hubspot_token']}"}
    v3 = await client.get("/hubspot/crm/v3/objects/contacts?limit=3&properties=email", headers=auth)
    dated = await client.get("/hubspot/crm/objects/2026-09/contacts?limit=3&properties=email", headers=auth)
    assert v3.status_code == dated.status_code == 200
    assert v3.json()["results"] == dated.json()["results"]
    unknown = await client.get("/hubspot/crm/objects/2019-01/contacts", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["category"] == "OBJECT_NOT_FOUND"


@pytest.mark.parametrize("version", ["v17", "v20", "v22"])
async def test_a_sunset_google_ads_version_is_refused_with_unsupported_version(
        client: httpx.AsyncClient, version: str) -> None:
    response = await client.post(ADS_STREAM.replace("/v26/", f"/{version}/"),
                                 json={"query": "SELECT campaign.id FROM campaign"}, headers={
                                     "Authorization": f"Bearer {DEMO_CREDENTIALS['googleads_token']}",
                                     "developer-token": DEMO_CREDENTIALS["googleads_developer_token"]})
    error = response.json()["error"]
    assert response.status_code == 400 and error["status"] == "INVALID_ARGUMENT"
    failure = error["details"][0]
    assert failure["@type"] == f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"
    assert failure["errors"][0]["errorCode"] == {"requestError": "UNSUPPORTED_VERSION"}
    assert failure["errors"][0]["message"] == (f"Version {version} is deprecated. Requests to this version "
                                               "will be blocked.")
