"""The gateway on renewing credentials: a refused token costs one renewal and one retry, a failing
token endpoint costs the affected fields a contract code, and no secret ever leaves."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.oauth import DEMO_OAUTH, oauth_state
from tests.conftest import Gateway, gateway_over
from tests.credentials.conftest import oauth_settings, token_requests

NO_CACHE = {"enabled": False, "responses": False}
CUSTOMERS = "{ customers(first: 5) { edges { node { id email } } } }"
ADS = "{ campaigns(first: 50) { edges { node { name channel stats { impressions } } } } }"
ANALYTICS = ('{ analytics(dateRange: {startDate: "2024-05-01", endDate: "2024-05-07"}, dimensions: ["date"], '
             'metrics: ["sessions"]) { rows { dimensionValues metricValues } } }')


def renewing_sources(key_file: Path) -> dict[str, Any]:
    return {"hubspot": {"oauth": oauth_settings("hubspot")},
            "shopify": {"oauth": oauth_settings("shopify")},
            "ga4": {"service_account_file": str(key_file)},
            "googleads": {"oauth": oauth_settings("google")}}


@pytest.fixture
async def gateway(token_sim: SimulatorState, key_file: Path) -> AsyncIterator[Gateway]:
    async with gateway_over(token_sim, sources=renewing_sources(key_file), cache=NO_CACHE) as gw:
        yield gw


async def test_a_revoked_token_is_renewed_once_and_the_call_sent_again(
        gateway: Gateway, control: httpx.AsyncClient) -> None:
    assert "errors" not in await gateway.query(CUSTOMERS)
    await control.post("/__oauth/revoke", json={"issuer": "hubspot"})
    gateway.sim.reset()
    body = await gateway.query(CUSTOMERS)
    assert "errors" not in body and len(body["data"]["customers"]["edges"]) == 5
    assert await token_requests(control, "hubspot") == {"refresh_token": 2}
    # One call refused at the front door (401), then the same call with the new token, answered.
    assert (await control.get("/__oauth")).json()["api_refusals"] == {"hubspot revoked": 1}
    assert gateway.sim.statuses["hubspot"]["401"] == 1
    assert gateway.routes("hubspot") == {"GET /crm/objects/2026-09/contacts": 1}


async def test_a_revoked_google_token_is_renewed_for_both_google_apis_without_failing_a_field(
        gateway: Gateway, control: httpx.AsyncClient) -> None:
    assert "errors" not in await gateway.query(ADS)
    await control.post("/__oauth/revoke", json={"issuer": "google"})
    ads, analytics = await gateway.query(ADS), await gateway.query(ANALYTICS)
    assert "errors" not in ads and "errors" not in analytics
    assert (await control.get("/__oauth")).json()["token_requests"]["google"] == {
        "refresh_token": 2, "jwt_bearer": 1}


async def test_a_failing_token_endpoint_costs_its_fields_upstream_unavailable_never_a_5xx(
        token_sim: SimulatorState, key_file: Path, control: httpx.AsyncClient) -> None:
    await control.post("/__oauth", json={"fail": {"issuer": "hubspot", "status": 503, "seconds": 60}})
    async with gateway_over(token_sim, sources=renewing_sources(key_file), cache=NO_CACHE) as gateway:
        response = await gateway.post(CUSTOMERS)
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None or body["data"].get("customers") is None
        assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
        assert all(e["extensions"].get("source") == "hubspot" for e in body["errors"])
        ads = await gateway.query(ADS)  # Google's token endpoint works: Ads fields are unaffected
        assert "errors" not in ads


async def test_a_refused_refresh_token_fails_only_that_sources_fields(
        token_sim: SimulatorState, key_file: Path, control: httpx.AsyncClient) -> None:
    await control.post("/__oauth/revoke", json={"issuer": "google", "refresh": True})
    async with gateway_over(token_sim, sources=renewing_sources(key_file), cache=NO_CACHE) as gateway:
        response = await gateway.post("{ analytics(dateRange: {startDate: \"2024-05-01\", endDate: "
                                      "\"2024-05-07\"}, dimensions: [\"date\"], metrics: [\"sessions\"]) "
                                      "{ rowCount } customers(first: 2) { edges { node { id } } } }")
        body = response.json()
        assert response.status_code == 200
        assert len(body["data"]["customers"]["edges"]) == 2  # GA4 uses its key file: still fine
        ads = (await gateway.post(ADS)).json()
        assert {e["extensions"]["code"] for e in ads["errors"]} == {"UPSTREAM_UNAVAILABLE"}
        assert {e["extensions"]["source"] for e in ads["errors"]} == {"googleads"}


async def test_no_secret_token_or_key_reaches_a_response_a_log_line_or_metrics(
        token_sim: SimulatorState, key_file: Path, control: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with gateway_over(token_sim, sources=renewing_sources(key_file), cache=NO_CACHE) as gateway:
        for query in (CUSTOMERS, ADS, ANALYTICS):
            seen.append((await gateway.post(query)).text)
        await control.post("/__oauth/revoke", json={"issuer": "google"})
        await control.post("/__oauth", json={"fail": {"issuer": "hubspot", "status": 400,
                                                      "error": "invalid_grant", "seconds": 60}})
        await control.post("/__oauth/revoke", json={"issuer": "hubspot"})
        for query in (CUSTOMERS, ADS, ANALYTICS, "{ orders(first: 3) { edges { node { name } } } }"):
            seen.append((await gateway.post(query)).text)
        seen.append((await gateway.client.get("/metrics")).text)
        seen.append((await gateway.client.get("/readyz")).text)
    seen.append(caplog.text)
    key_text = key_file.read_text()  # noqa: ASYNC240 - a small local file, read once
    everything = "\n".join(seen)
    assert "UPSTREAM_UNAVAILABLE" in everything and "access token renewed" in caplog.text
    oauth = oauth_state(token_sim)
    secrets = [*oauth.access, *oauth.refresh_tokens,
               *(d["client_secret"] for d in DEMO_OAUTH.values()),
               *key_text.split("\\n")[1:4]]  # lines of the private key's body
    assert len(secrets) > 10
    leaked = [s for s in secrets if s and s in everything]
    assert not leaked


async def test_metrics_count_renewals_by_source_grant_and_outcome(
        gateway: Gateway, control: httpx.AsyncClient) -> None:
    await gateway.query(CUSTOMERS)
    await control.post("/__oauth", json={"fail": {"issuer": "hubspot", "status": 400, "error": "invalid_grant",
                                                  "seconds": 60}})
    await control.post("/__oauth/revoke", json={"issuer": "hubspot"})
    await gateway.query(CUSTOMERS)
    text = (await gateway.client.get("/metrics")).text
    assert 'harmonia_credential_renewals_total{grant="refresh_token",outcome="renewed",source="hubspot"}' in text
    assert 'harmonia_credential_renewals_total{grant="refresh_token",outcome="refused",source="hubspot"}' in text


async def test_two_portals_of_one_app_never_share_cached_records(
        token_sim: SimulatorState, control: httpx.AsyncClient, credential_redis: redis.Redis) -> None:
    """Two companies' gateways on one Redis, the same HubSpot app installed in two portals (one base URL,
    one client id, two refresh tokens): the second must not be answered from the first one's cache."""
    await credential_redis.flushdb()
    demo = DEMO_OAUTH["hubspot"]
    await control.post("/__oauth/clients", json={"issuer": "hubspot", "client_id": demo["client_id"],
                                                 "client_secret": demo["client_secret"], "scopes": ["oauth"],
                                                 "refresh_token": "portal-b-refresh-token"})
    url = os.environ["HARMONIA_TEST_REDIS_URL"]
    portal_b = oauth_settings("hubspot", refresh_token="portal-b-refresh-token")
    async with gateway_over(token_sim, redis_url=url, sources={"hubspot": {"oauth": oauth_settings("hubspot")}}) as a:
        assert "errors" not in await a.query(CUSTOMERS)
    token_sim.reset()
    async with gateway_over(token_sim, redis_url=url, sources={"hubspot": {"oauth": portal_b}}) as b:
        assert "errors" not in await b.query(CUSTOMERS)
    assert token_sim.requests["hubspot"] == 1  # portal B asked HubSpot itself
