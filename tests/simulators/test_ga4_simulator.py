"""The GA4 Data API simulator answers like GA4: aggregated facts, string values, Google errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.ga4 import LAST_DAY, property_quota

RUN = "/ga4/v1beta/properties/123456789:runReport"
BATCH = "/ga4/v1beta/properties/123456789:batchRunReports"
AUTH = {"Authorization": "Bearer ya29.demo-ga4-token"}
JANUARY = {"startDate": "2026-01-01", "endDate": "2026-01-31"}


def world_sum(world: World, metric: str, start: str, end: str, campaigns: set[str] | None = None) -> float:
    return sum(float(r[metric]) for r in world.ga4_rows
               if start <= r["date"] <= end and (campaigns is None or r["sessionCampaignName"] in campaigns))


def in_list(*names: str, case_sensitive: bool = True) -> dict[str, Any]:
    return {"filter": {"fieldName": "sessionCampaignName",
                       "inListFilter": {"values": list(names), "caseSensitive": case_sensitive}}}


async def report(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("dateRanges", [JANUARY])
    response = await client.post(RUN, headers=AUTH, json=body)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def test_campaign_sessions_over_a_month_equal_the_world_facts(
        sim_client: httpx.AsyncClient, world: World) -> None:
    body = await report(sim_client, dimensions=[{"name": "sessionCampaignName"}],
                        metrics=[{"name": "sessions"}, {"name": "totalRevenue"}, {"name": "engagementRate"}],
                        dimensionFilter=in_list("Summer kickoff"))
    [row] = body["rows"]
    assert row["dimensionValues"] == [{"value": "Summer kickoff"}]
    sessions, revenue, rate = (v["value"] for v in row["metricValues"])
    camp = {"Summer kickoff"}
    assert int(sessions) == world_sum(world, "sessions", "20260101", "20260131", camp)
    assert float(revenue) == pytest.approx(world_sum(world, "totalRevenue", "20260101", "20260131", camp))
    engaged = world_sum(world, "engagedSessions", "20260101", "20260131", camp)
    assert float(rate) == pytest.approx(engaged / int(sessions))


async def test_values_are_strings_and_headers_carry_ga4_types(sim_client: httpx.AsyncClient) -> None:
    body = await report(sim_client, dimensions=[{"name": "date"}, {"name": "deviceCategory"}],
                        metrics=[{"name": "sessions"}, {"name": "totalRevenue"}, {"name": "sessionsPerUser"}])
    assert body["kind"] == "analyticsData#runReport"
    assert body["metadata"] == {"currencyCode": "USD", "timeZone": "America/New_York"}
    assert body["metricHeaders"] == [{"name": "sessions", "type": "TYPE_INTEGER"},
                                     {"name": "totalRevenue", "type": "TYPE_CURRENCY"},
                                     {"name": "sessionsPerUser", "type": "TYPE_FLOAT"}]
    values = [v["value"] for row in body["rows"] for v in row["dimensionValues"] + row["metricValues"]]
    assert values and all(isinstance(v, str) for v in values)
    dates = {row["dimensionValues"][0]["value"] for row in body["rows"]}
    assert dates == {f"202601{day:02d}" for day in range(1, 32)}  # GA4's YYYYMMDD dates


async def test_row_count_is_the_full_size_whatever_the_limit_and_offset(
        sim_client: httpx.AsyncClient) -> None:
    query: dict[str, Any] = {"dimensions": [{"name": "date"}, {"name": "sessionCampaignName"}],
                             "metrics": [{"name": "sessions"}],
                             "orderBys": [{"dimension": {"dimensionName": "date"}},
                                          {"dimension": {"dimensionName": "sessionCampaignName"}}]}
    full = await report(sim_client, **query)
    page = await report(sim_client, **query, limit="7", offset="20")
    assert page["rowCount"] == full["rowCount"] > 27
    assert page["rows"] == full["rows"][20:27]
    beyond = await report(sim_client, **query, limit=7, offset=full["rowCount"])
    assert "rows" not in beyond and beyond["rowCount"] == full["rowCount"]


async def test_in_list_filter_keeps_only_the_listed_campaigns_and_honours_case(
        sim_client: httpx.AsyncClient) -> None:
    dims, metrics = [{"name": "sessionCampaignName"}], [{"name": "sessions"}]
    listed = await report(sim_client, dimensions=dims, metrics=metrics,
                          dimensionFilter=in_list("Summer kickoff", "Brand Search", "No such campaign"))
    assert {r["dimensionValues"][0]["value"] for r in listed["rows"]} == {"Summer kickoff", "Brand Search"}
    exact_case = await report(sim_client, dimensions=dims, metrics=metrics,
                              dimensionFilter=in_list("summer kickoff"))
    assert "rows" not in exact_case
    any_case = await report(sim_client, dimensions=dims, metrics=metrics,
                            dimensionFilter=in_list("summer kickoff", case_sensitive=False))
    assert [r["dimensionValues"][0]["value"] for r in any_case["rows"]] == ["Summer kickoff"]


async def test_string_filters_not_expressions_and_metric_filters_combine(
        sim_client: httpx.AsyncClient, world: World) -> None:
    body = await report(
        sim_client, dimensions=[{"name": "sessionCampaignName"}], metrics=[{"name": "sessions"}],
        dimensionFilter={"andGroup": {"expressions": [
            {"filter": {"fieldName": "sessionCampaignName",
                        "stringFilter": {"matchType": "BEGINS_WITH", "value": "spring"}}},
            {"notExpression": {"filter": {"fieldName": "deviceCategory",
                                          "stringFilter": {"value": "tablet"}}}}]}},
        metricFilter={"filter": {"fieldName": "sessions", "numericFilter": {
            "operation": "GREATER_THAN", "value": {"int64Value": "1"}}}},
        orderBys=[{"metric": {"metricName": "sessions"}, "desc": True}])
    names = [r["dimensionValues"][0]["value"] for r in body["rows"]]
    assert names and all(n.lower().startswith("spring") for n in names)
    sessions = [int(r["metricValues"][0]["value"]) for r in body["rows"]]
    assert sessions == sorted(sessions, reverse=True)
    first = names[0]
    expected = sum(r["sessions"] for r in world.ga4_rows if "20260101" <= r["date"] <= "20260131"
                   and r["sessionCampaignName"] == first and r["deviceCategory"] != "tablet")
    assert sessions[0] == expected


async def test_relative_dates_count_back_from_the_last_day_of_data(sim_client: httpx.AsyncClient) -> None:
    yesterday = await report(sim_client, dateRanges=[{"startDate": "yesterday", "endDate": "yesterday"}],
                             dimensions=[{"name": "date"}], metrics=[{"name": "sessions"}])
    assert [r["dimensionValues"][0]["value"] for r in yesterday["rows"]] == [
        (LAST_DAY - timedelta(days=1)).strftime("%Y%m%d")]
    week = await report(sim_client, dateRanges=[{"startDate": "6daysAgo", "endDate": "today"}],
                        dimensions=[{"name": "date"}], metrics=[{"name": "sessions"}],
                        orderBys=[{"dimension": {"dimensionName": "date"}}])
    days = [r["dimensionValues"][0]["value"] for r in week["rows"]]
    assert days == [(LAST_DAY - timedelta(days=n)).strftime("%Y%m%d") for n in range(6, -1, -1)]


async def test_metric_aggregation_total_sums_every_row_not_just_the_page(
        sim_client: httpx.AsyncClient, world: World) -> None:
    body = await report(sim_client, dimensions=[{"name": "date"}], metrics=[{"name": "sessions"}],
                        metricAggregations=["TOTAL", "MAXIMUM"], limit="3")
    [total] = body["totals"]
    assert total["dimensionValues"] == [{"value": "RESERVED_TOTAL"}]
    assert int(total["metricValues"][0]["value"]) == world_sum(world, "sessions", "20260101", "20260131")
    assert body["maximums"][0]["dimensionValues"] == [{"value": "RESERVED_MAX"}]
    plain = await report(sim_client, dimensions=[{"name": "date"}], metrics=[{"name": "sessions"}])
    assert "totals" not in plain and "maximums" not in plain


async def test_several_date_ranges_add_a_date_range_dimension(sim_client: httpx.AsyncClient) -> None:
    body = await report(sim_client, dateRanges=[JANUARY, {"startDate": "2026-02-01", "endDate": "2026-02-28",
                                                          "name": "february"}],
                        dimensions=[{"name": "deviceCategory"}], metrics=[{"name": "sessions"}])
    assert body["dimensionHeaders"] == [{"name": "deviceCategory"}, {"name": "dateRange"}]
    assert {r["dimensionValues"][1]["value"] for r in body["rows"]} == {"date_range_0", "february"}
    assert body["rowCount"] == 6


@pytest.mark.parametrize(("body", "fragment"), [
    ({"dimensions": [{"name": "favouriteColour"}]}, "favouriteColour is not a valid dimension"),
    ({"metrics": [{"name": "bounces"}]}, "bounces is not a valid metric"),
    ({"metrics": [{"name": m} for m in ["sessions"] * 11]}, "limited to 10 metrics"),
    ({"dateRanges": [JANUARY] * 5, "metrics": [{"name": "sessions"}]}, "limited to 4 dateRanges"),
    ({"dateRanges": [{"startDate": "last week", "endDate": "today"}]}, "Invalid date"),
])
async def test_malformed_reports_are_invalid_argument(
        sim_client: httpx.AsyncClient, body: dict[str, Any], fragment: str) -> None:
    body.setdefault("dateRanges", [JANUARY])
    response = await sim_client.post(RUN, headers=AUTH, json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert fragment in error["message"]


async def test_a_missing_token_is_unauthenticated_and_another_property_is_denied(
        sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.post(RUN, json={"dateRanges": [JANUARY]})
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert response.json()["error"]["message"].startswith("Request had invalid authentication credentials")
    other = await sim_client.post("/ga4/v1beta/properties/999:runReport", headers=AUTH,
                                  json={"dateRanges": [JANUARY]})
    assert other.status_code == 403 and other.json()["error"]["status"] == "PERMISSION_DENIED"


async def test_batch_answers_reports_in_order_and_refuses_more_than_five(
        sim_client: httpx.AsyncClient) -> None:
    one = {"dateRanges": [JANUARY], "metrics": [{"name": "sessions"}]}
    two = {**one, "dimensions": [{"name": "deviceCategory"}]}
    response = await sim_client.post(BATCH, headers=AUTH, json={"requests": [one, two]})
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "analyticsData#batchRunReports"
    assert [r["rowCount"] for r in body["reports"]] == [1, 3]
    too_many = await sim_client.post(BATCH, headers=AUTH, json={"requests": [one] * 6})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_property_quota_is_echoed_and_exhaustion_answers_resource_exhausted(
        sim_client: httpx.AsyncClient, sim_state: SimulatorState) -> None:
    body = await report(sim_client, metrics=[{"name": "sessions"}], returnPropertyQuota=True)
    hourly = body["propertyQuota"]["tokensPerHour"]
    assert hourly["consumed"] >= 1 and hourly["remaining"] == 40_000 - hourly["consumed"]
    quota = property_quota(sim_state)
    quota.roll()
    quota.hour_used = 40_000
    response = await sim_client.post(RUN, headers=AUTH, json={"dateRanges": [JANUARY]})
    assert response.status_code == 429
    assert response.json()["error"] == {"code": 429, "status": "RESOURCE_EXHAUSTED",
                                        "message": response.json()["error"]["message"]}
    assert "tokens per hour" in response.json()["error"]["message"]


async def test_injected_faults_use_the_google_error_envelope(sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "ga4", "status": 503, "rate": 1.0, "seconds": 30})
    response = await sim_client.post(RUN, headers=AUTH, json={"dateRanges": [JANUARY]})
    assert response.status_code == 503
    assert response.json() == {"error": {"code": 503, "message": "Injected fault", "status": "UNAVAILABLE"}}


async def test_metadata_lists_the_dimensions_and_metrics_reports_accept(
        sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.get("/ga4/v1beta/properties/123456789/metadata", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert "sessionCampaignName" in {d["apiName"] for d in body["dimensions"]}
    assert {"apiName": "totalRevenue", "type": "TYPE_CURRENCY"}.items() <= next(
        m for m in body["metrics"] if m["apiName"] == "totalRevenue").items()


async def test_without_rate_limits_the_quota_is_never_used_up(world: World) -> None:
    state = SimulatorState(SimulatorConfig(seed=7, rate_limits=False, ga4_tokens_per_hour=5), world=world)
    transport = httpx.ASGITransport(app=create_simulator_app(state=state))
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators") as client:
        bodies = [await report(client, metrics=[{"name": "sessions"}], returnPropertyQuota=True) for _ in range(8)]
    assert all(b["propertyQuota"]["tokensPerHour"]["remaining"] == 5 - b["propertyQuota"]["tokensPerHour"]["consumed"]
               for b in bodies)
