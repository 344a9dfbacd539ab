"""The Google Ads simulator answers GAQL like the real searchStream: batches, proto3 JSON, Google errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World

CUSTOMER = DEMO_CREDENTIALS["googleads_customer_id"]
STREAM = f"/googleads/v26/customers/{CUSTOMER}/googleAds:searchStream"
SEARCH = f"/googleads/v26/customers/{CUSTOMER}/googleAds:search"
HEADERS = {"Authorization": f"Bearer {DEMO_CREDENTIALS['googleads_token']}",
           "developer-token": DEMO_CREDENTIALS["googleads_developer_token"]}


async def stream(client: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    return await client.post(STREAM, json={"query": query}, headers={**HEADERS, **headers})


async def rows(client: httpx.AsyncClient, query: str) -> list[dict[str, Any]]:
    response = await stream(client, query)
    assert response.status_code == 200, response.text
    return [row for batch in response.json() for row in batch.get("results", [])]


def totals(world: World, campaign_id: str, start: str = "0000", end: str = "9999") -> dict[str, Any]:
    facts = [f for f in world.ads_daily if f["campaign_id"] == campaign_id and start <= f["date"] <= end]
    return {"impressions": sum(f["impressions"] for f in facts), "clicks": sum(f["clicks"] for f in facts),
            "cost_micros": sum(f["cost_micros"] for f in facts),
            "conversions": round(sum(f["conversions"] for f in facts), 2)}


def query_error(response: httpx.Response) -> str:
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == "Request contains an invalid argument."
    failure = error["details"][0]
    assert failure["@type"] == "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"
    assert failure["requestId"] == response.headers["request-id"]
    code: str = failure["errors"][0]["errorCode"]["queryError"]
    return code


async def test_stream_is_an_array_of_batches_in_proto3_json(sim_client: httpx.AsyncClient) -> None:
    query = ("SELECT campaign.id, campaign.name, campaign.advertising_channel_type, metrics.impressions, "
             "metrics.cost_micros, metrics.conversions FROM campaign")
    response = await stream(sim_client, query)
    batches = response.json()
    assert isinstance(batches, list) and len(batches) == 1
    batch = batches[0]
    assert batch["fieldMask"] == ("campaign.id,campaign.name,campaign.advertisingChannelType,"
                                  "metrics.impressions,metrics.costMicros,metrics.conversions")
    assert batch["requestId"] == response.headers["request-id"]
    row = batch["results"][0]
    assert row["campaign"]["resourceName"] == f"customers/{CUSTOMER}/campaigns/{row['campaign']['id']}"
    assert isinstance(row["campaign"]["id"], str)
    assert isinstance(row["metrics"]["impressions"], str) and isinstance(row["metrics"]["costMicros"], str)
    assert isinstance(row["metrics"]["conversions"], float)
    assert row["campaign"]["advertisingChannelType"] == "SEARCH"


async def test_metrics_without_date_segment_are_lifetime_totals_per_campaign(
        sim_client: httpx.AsyncClient, world: World) -> None:
    result = await rows(sim_client, "SELECT campaign.id, metrics.impressions, metrics.clicks, "
                                    "metrics.cost_micros, metrics.conversions FROM campaign")
    assert len(result) == len(world.ads_campaigns)
    first = next(r for r in result if r["campaign"]["id"] == world.ads_campaigns[0]["id"])
    expected = totals(world, world.ads_campaigns[0]["id"])
    assert int(first["metrics"]["impressions"]) == expected["impressions"]
    assert int(first["metrics"]["costMicros"]) == expected["cost_micros"]
    assert first["metrics"]["conversions"] == pytest.approx(expected["conversions"])


async def test_date_filter_without_segment_aggregates_over_the_range(sim_client: httpx.AsyncClient,
                                                                     world: World) -> None:
    cid = world.ads_campaigns[1]["id"]
    result = await rows(sim_client, f"SELECT campaign.id, metrics.clicks FROM campaign "
                                    f"WHERE campaign.id = {cid} "
                                    "AND segments.date BETWEEN '2026-01-01' AND '2026-01-31'")
    assert len(result) == 1
    assert int(result[0]["metrics"]["clicks"]) == totals(world, cid, "2026-01-01", "2026-01-31")["clicks"]


async def test_date_segment_gives_one_row_per_campaign_per_day(sim_client: httpx.AsyncClient,
                                                               world: World) -> None:
    result = await rows(sim_client, "SELECT campaign.id, segments.date, metrics.clicks FROM campaign "
                                    "WHERE segments.date BETWEEN '2026-02-01' AND '2026-02-10' "
                                    "AND campaign.id IN (111, 148)")
    assert len(result) == 2 * 10
    day = next(r for r in result if r["campaign"]["id"] == "148" and r["segments"]["date"] == "2026-02-03")
    fact = next(f for f in world.ads_daily if f["campaign_id"] == "148" and f["date"] == "2026-02-03")
    assert int(day["metrics"]["clicks"]) == fact["clicks"]


async def test_during_last_7_days_ends_on_the_last_day_of_data(sim_client: httpx.AsyncClient,
                                                               world: World) -> None:
    last = max(f["date"] for f in world.ads_daily)
    result = await rows(sim_client, "SELECT campaign.id, segments.date FROM campaign "
                                    "WHERE segments.date DURING LAST_7_DAYS AND campaign.id = 111")
    days = sorted(r["segments"]["date"] for r in result)
    assert days[-1] == last
    assert days[0] == (date.fromisoformat(last) - timedelta(days=6)).isoformat()
    assert len(days) == 7


async def test_status_and_name_conditions_filter_campaigns(sim_client: httpx.AsyncClient,
                                                           world: World) -> None:
    enabled = await rows(sim_client, "SELECT campaign.id, campaign.status FROM campaign "
                                     "WHERE campaign.status = 'ENABLED'")
    assert {r["campaign"]["id"] for r in enabled} == {c["id"] for c in world.ads_campaigns
                                                       if c["status"] == "ENABLED"}
    not_enabled = await rows(sim_client, "SELECT campaign.id FROM campaign WHERE campaign.status != ENABLED")
    assert len(enabled) + len(not_enabled) == len(world.ads_campaigns)
    named = await rows(sim_client, "SELECT campaign.name FROM campaign WHERE campaign.name = 'Brand Search'")
    assert [r["campaign"]["name"] for r in named] == ["Brand Search"]


async def test_order_by_and_limit(sim_client: httpx.AsyncClient) -> None:
    result = await rows(sim_client, "SELECT campaign.id, metrics.clicks FROM campaign "
                                    "ORDER BY metrics.clicks DESC LIMIT 3")
    clicks = [int(r["metrics"]["clicks"]) for r in result]
    assert len(clicks) == 3 and clicks == sorted(clicks, reverse=True)


@pytest.mark.parametrize(("query", "code"), [
    ("SELEC campaign.id FROM campaign", "EXPECTED_SELECT"),
    ("SELECT campaign.budget FROM campaign", "UNRECOGNIZED_FIELD"),
    ("SELECT campaign.id FROM ad_group", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
    ("SELECT campaign.id campaign", "EXPECTED_FROM"),
    ("SELECT campaign.id FROM campaign WHERE campaign.status = 'LIVE'", "BAD_ENUM_CONSTANT"),
    ("SELECT campaign.id FROM campaign WHERE campaign.name = 'open", "STRING_NOT_TERMINATED"),
    ("SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_YEAR",
     "INVALID_VALUE_WITH_DURING_OPERATOR"),
    ("SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-02-01' AND '2026-01-01'",
     "DATE_RANGE_TOO_NARROW"),
    ("SELECT campaign.id, segments.date FROM campaign", "EXPECTED_FILTERS_ON_DATE_RANGE"),
    ("SELECT campaign.id FROM campaign LIMIT 0", "LIMIT_VALUE_TOO_LOW"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id IN ()", "PROHIBITED_EMPTY_LIST_IN_CONDITION"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id ~ 1", "BAD_SYMBOL"),
])
async def test_invalid_queries_get_the_query_error_the_api_names(sim_client: httpx.AsyncClient, query: str,
                                                                  code: str) -> None:
    assert query_error(await stream(sim_client, query)) == code


async def test_missing_oauth_token_is_401_unauthenticated(sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.post(STREAM, json={"query": "SELECT campaign.id FROM campaign"},
                                     headers={"developer-token": HEADERS["developer-token"]})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["status"] == "UNAUTHENTICATED" and error["code"] == 401
    assert error["message"].startswith("Request is missing required authentication credential")


async def test_wrong_developer_token_is_401(sim_client: httpx.AsyncClient) -> None:
    response = await stream(sim_client, "SELECT campaign.id FROM campaign", **{"developer-token": "nope"})
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


async def test_another_customer_is_403_permission_denied(sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.post("/googleads/v26/customers/9999999999/googleAds:searchStream",
                                     json={"query": "SELECT campaign.id FROM campaign"}, headers=HEADERS)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["details"][0]["errors"][0]["errorCode"] == {"authorizationError": "USER_PERMISSION_DENIED"}


async def test_login_customer_id_is_accepted(sim_client: httpx.AsyncClient) -> None:
    response = await stream(sim_client, "SELECT campaign.id FROM campaign",
                            **{"login-customer-id": "5550001111"})
    assert response.status_code == 200


async def test_bursting_past_the_customer_qps_gets_resource_exhausted(sim_client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(stream(sim_client, "SELECT campaign.id FROM campaign")
                                       for _ in range(12)))
    throttled = [r for r in responses if r.status_code == 429]
    assert throttled
    error = throttled[0].json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    failure = error["details"][0]["errors"][0]
    assert failure["errorCode"] == {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}
    assert failure["details"]["quotaErrorDetails"]["retryDelay"].endswith("s")


async def test_injected_faults_use_the_google_envelope(sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "googleads", "status": 503, "rate": 1.0})
    response = await stream(sim_client, "SELECT campaign.id FROM campaign")
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE"


def big_world(campaigns: int, days: int) -> World:
    world = World()
    start = date(2026, 1, 1)
    for i in range(campaigns):
        world.ads_campaigns.append({"id": str(1000 + i), "name": f"C{i}", "status": "ENABLED",
                                    "advertisingChannelType": "SEARCH"})
        for d in range(days):
            world.ads_daily.append({"campaign_id": str(1000 + i), "date": (start + timedelta(d)).isoformat(),
                                    "impressions": 10, "clicks": 1, "cost_micros": 500_000,
                                    "conversions": 0.5})
    return world


@pytest.fixture
async def big_client() -> AsyncIterator[httpx.AsyncClient]:
    state = SimulatorState(SimulatorConfig(rate_limits=False), world=big_world(campaigns=30, days=365))
    app = create_simulator_app(state=state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators") as client:
        yield client


PER_DAY = ("SELECT campaign.id, segments.date, metrics.clicks FROM campaign "
           "WHERE segments.date BETWEEN '2026-01-01' AND '2026-12-31'")


async def test_stream_splits_results_into_batches_of_ten_thousand(big_client: httpx.AsyncClient) -> None:
    batches = (await stream(big_client, PER_DAY)).json()
    assert [len(b["results"]) for b in batches] == [10_000, 950]
    assert len({b["requestId"] for b in batches}) == 1


async def test_search_pages_by_ten_thousand_with_a_next_page_token(big_client: httpx.AsyncClient) -> None:
    first = (await big_client.post(SEARCH, json={"query": PER_DAY, "returnTotalResultsCount": True},
                                   headers=HEADERS)).json()
    assert len(first["results"]) == 10_000 and first["totalResultsCount"] == "10950"
    second = (await big_client.post(SEARCH, json={"query": PER_DAY, "pageToken": first["nextPageToken"]},
                                    headers=HEADERS)).json()
    assert len(second["results"]) == 950 and "nextPageToken" not in second
    keys = {(r["campaign"]["id"], r["segments"]["date"]) for r in first["results"] + second["results"]}
    assert len(keys) == 10_950
