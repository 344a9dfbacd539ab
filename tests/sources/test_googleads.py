"""GoogleAdsAccount against the simulator: one searchStream per question, int64s parsed, errors mapped."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harmonia.errors import BadUserInput, UpstreamAuthFailed, UpstreamRateLimited
from harmonia.settings import GoogleAdsSettings
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.sources.googleads import GoogleAdsAccount, stream_rows

BASE = "http://simulators/googleads"


@pytest.fixture
async def account(transport: httpx.ASGITransport) -> AsyncIterator[GoogleAdsAccount]:
    account = GoogleAdsAccount.from_settings(GoogleAdsSettings(base_url=BASE), transport=transport)
    yield account
    await account.aclose()


async def logged(sim_client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await sim_client.get("/__requests", params={"source": "googleads"})
    entries: list[dict[str, Any]] = response.json()
    return entries


def totals(world: World, campaign_id: str, start: str = "0000", end: str = "9999") -> tuple[int, int, int]:
    facts = [f for f in world.ads_daily if f["campaign_id"] == campaign_id and start <= f["date"] <= end]
    return (sum(f["impressions"] for f in facts), sum(f["clicks"] for f in facts),
            sum(f["cost_micros"] for f in facts))


async def test_campaigns_are_listed_by_numeric_id_without_removed_ones(world: World) -> None:
    changed = World(ads_campaigns=copy.deepcopy(world.ads_campaigns), ads_daily=world.ads_daily)
    changed.ads_campaigns[3]["status"] = "REMOVED"
    changed.ads_campaigns.append({"id": "99", "name": "Early", "status": "ENABLED",
                                  "advertisingChannelType": "SEARCH"})
    app = create_simulator_app(state=SimulatorState(SimulatorConfig(), world=changed))
    account = GoogleAdsAccount.from_settings(GoogleAdsSettings(base_url=BASE),
                                             transport=httpx.ASGITransport(app=app))
    try:
        campaigns = await account.list_campaigns()
    finally:
        await account.aclose()
    ids = [c.id for c in campaigns]
    assert ids[0] == "99"  # numeric order: "99" before "111"
    assert ids == sorted(ids, key=int)
    assert changed.ads_campaigns[3]["id"] not in ids
    assert len(ids) == len(changed.ads_campaigns) - 1
    assert {c.channel_type for c in campaigns} == {"SEARCH"}


async def test_get_campaigns_skips_unknown_and_non_numeric_ids_in_one_call(
        account: GoogleAdsAccount, world: World, sim_client: httpx.AsyncClient) -> None:
    wanted = [c["id"] for c in world.ads_campaigns[:3]]
    found = await account.get_campaigns([*wanted, wanted[0], "424242", "drop table"])
    assert set(found) == set(wanted)
    assert found[wanted[0]].name == world.ads_campaigns[0]["name"]
    assert found[wanted[0]].status == world.ads_campaigns[0]["status"]
    assert len(await logged(sim_client)) == 1


async def test_metrics_for_five_campaigns_take_one_http_call(account: GoogleAdsAccount, world: World,
                                                             sim_client: httpx.AsyncClient) -> None:
    ids = [c["id"] for c in world.ads_campaigns[:5]]
    metrics = await account.campaign_metrics(ids, "2026-03-01", "2026-03-31")
    requests = await logged(sim_client)
    assert len(requests) == 1
    assert requests[0]["route"].endswith("googleAds:searchStream")
    assert set(metrics) == set(ids)
    impressions, clicks, cost = totals(world, ids[2], "2026-03-01", "2026-03-31")
    assert (metrics[ids[2]].impressions, metrics[ids[2]].clicks, metrics[ids[2]].cost_micros) == (
        impressions, clicks, cost)
    assert isinstance(metrics[ids[2]].cost_micros, int)


async def test_metrics_without_dates_are_lifetime_totals(account: GoogleAdsAccount, world: World) -> None:
    cid = world.ads_campaigns[0]["id"]
    lifetime = (await account.campaign_metrics([cid]))[cid]
    march = (await account.campaign_metrics([cid], "2026-03-01", "2026-03-31"))[cid]
    assert (lifetime.impressions, lifetime.clicks, lifetime.cost_micros) == totals(world, cid)
    assert lifetime.clicks > march.clicks
    expected = round(sum(f["conversions"] for f in world.ads_daily if f["campaign_id"] == cid), 2)
    assert lifetime.conversions == pytest.approx(expected)


async def test_open_ended_range_counts_from_the_start_date(account: GoogleAdsAccount, world: World) -> None:
    cid = world.ads_campaigns[0]["id"]
    since = (await account.campaign_metrics([cid], start_date="2026-10-01"))[cid]
    assert since.clicks == totals(world, cid, "2026-10-01")[1]


async def test_malformed_dates_are_bad_input_before_any_request(account: GoogleAdsAccount,
                                                                sim_client: httpx.AsyncClient) -> None:
    with pytest.raises(BadUserInput):
        await account.campaign_metrics(["111"], "2026-3-1", "2026-03-31")
    with pytest.raises(BadUserInput):
        await account.campaign_metrics(["111"], "2026-03-31", "2026-03-01")
    assert await logged(sim_client) == []


async def test_invalid_gaql_is_bad_user_input_with_our_own_message(account: GoogleAdsAccount) -> None:
    with pytest.raises(BadUserInput) as raised:
        await account.search_stream("SELECT campaign.budget FROM campaign")
    assert raised.value.message == "Google Ads rejected the campaign query (UNRECOGNIZED_FIELD)"
    assert "campaign.budget" not in raised.value.message


async def test_dashed_customer_id_is_sent_as_digits(transport: httpx.ASGITransport,
                                                    sim_client: httpx.AsyncClient) -> None:
    settings = GoogleAdsSettings(base_url=BASE, customer_id="123-456-7890", login_customer_id="555-000-1111")
    account = GoogleAdsAccount.from_settings(settings, transport=transport)
    try:
        assert len(await account.list_campaigns()) > 0
    finally:
        await account.aclose()
    assert (await logged(sim_client))[0]["path"] == "/v26/customers/1234567890/googleAds:searchStream"


@pytest.mark.parametrize("settings", [
    GoogleAdsSettings(base_url=BASE, token="expired"),
    GoogleAdsSettings(base_url=BASE, developer_token="unapproved"),
    GoogleAdsSettings(base_url=BASE, customer_id="9999999999"),
], ids=["oauth-401", "developer-token-401", "other-customer-403"])
async def test_refused_credentials_are_upstream_auth_failures(transport: httpx.ASGITransport,
                                                              settings: GoogleAdsSettings) -> None:
    account = GoogleAdsAccount.from_settings(settings, transport=transport)
    try:
        with pytest.raises(UpstreamAuthFailed) as raised:
            await account.list_campaigns()
    finally:
        await account.aclose()
    assert raised.value.source == "googleads"


async def test_a_burst_past_the_qps_limit_is_paced_without_a_single_429(account: GoogleAdsAccount, world: World,
                                                                        sim_client: httpx.AsyncClient) -> None:
    results = await asyncio.gather(*(account.get_campaigns([c["id"]]) for c in world.ads_campaigns))
    assert [set(r) for r in results] == [{c["id"]} for c in world.ads_campaigns]
    # Twelve answers from exactly twelve requests: the pacer held the burst under the customer's bucket.
    assert len(await logged(sim_client)) == len(world.ads_campaigns)


async def test_a_burst_past_the_qps_limit_waits_out_the_retry_delay(transport: httpx.ASGITransport, world: World,
                                                                    sim_client: httpx.AsyncClient) -> None:
    # A pacer set above the simulator's 10/s: the refused requests must be retried after retryDelay.
    settings = GoogleAdsSettings(base_url=BASE, requests_per_second=100.0)
    account = GoogleAdsAccount.from_settings(settings, transport=transport)
    try:
        results = await asyncio.gather(*(account.get_campaigns([c["id"]]) for c in world.ads_campaigns))
    finally:
        await account.aclose()
    assert [set(r) for r in results] == [{c["id"]} for c in world.ads_campaigns]
    # Twelve answers from more than twelve requests: the refused ones were retried after the delay.
    assert len(await logged(sim_client)) > len(world.ads_campaigns)


async def test_persistent_429_becomes_upstream_rate_limited(account: GoogleAdsAccount,
                                                            sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "googleads", "status": 429, "rate": 1.0})
    with pytest.raises(UpstreamRateLimited):
        await account.list_campaigns()


def test_an_error_at_the_end_of_a_stream_is_raised_with_its_retry_delay() -> None:
    failure = "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"
    body = [
        {"results": [{"campaign": {"id": "111"}}], "fieldMask": "campaign.id", "requestId": "r1"},
        {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota",
                   "details": [{"@type": failure,
                                "errors": [{"errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
                                            "details": {"quotaErrorDetails": {"retryDelay": "7s"}}}]}]}},
    ]
    with pytest.raises(UpstreamRateLimited) as raised:
        stream_rows(body)
    assert raised.value.retry_after == 7.0


def test_an_empty_stream_has_no_rows() -> None:
    assert stream_rows([{"fieldMask": "campaign.id", "requestId": "r1"}]) == []
