"""The GA4 connector against the simulator: reports, pagination, batching, summaries, failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harmonia.errors import BadUserInput, UpstreamAuthFailed, UpstreamRateLimited
from harmonia.settings import GA4Settings
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.ga4 import property_quota
from harmonia.sources.ga4 import GA4Property
from harmonia.sources.records import MetricHeader, ReportRequest

BASE = "http://simulators/ga4"
RUN_ROUTE = "POST /v1beta/properties/{property_id}:runReport"
BATCH_ROUTE = "POST /v1beta/properties/{property_id}:batchRunReports"


def january(dimensions: tuple[str, ...], metrics: tuple[str, ...], **extra: Any) -> ReportRequest:
    return ReportRequest(start_date="2026-01-01", end_date="2026-01-31", dimensions=dimensions,
                         metrics=metrics, **extra)


def world_sum(world: World, metric: str, campaign: str | None = None) -> float:
    return sum(float(r[metric]) for r in world.ga4_rows if "20260101" <= r["date"] <= "20260131"
               and (campaign is None or r["sessionCampaignName"] == campaign))


async def ga4_calls(client: httpx.AsyncClient) -> dict[str, int]:
    stats: dict[str, int] = (await client.get("/__stats")).json()["ga4"]["by_route"]
    return stats


@pytest.fixture
async def ga4(transport: httpx.ASGITransport) -> AsyncIterator[GA4Property]:
    connector = GA4Property.from_settings(GA4Settings(base_url=BASE), transport=transport)
    yield connector
    await connector.aclose()


async def test_report_keeps_ga4_strings_with_headers_totals_and_metadata(
        ga4: GA4Property, world: World) -> None:
    report = await ga4.run_report(january(("deviceCategory",), ("sessions", "totalRevenue")))
    assert report.dimension_headers == ("deviceCategory",)
    assert report.metric_headers == (MetricHeader("sessions", "TYPE_INTEGER"),
                                     MetricHeader("totalRevenue", "TYPE_CURRENCY"))
    assert [r.dimension_values for r in report.rows] == [("desktop",), ("mobile",), ("tablet",)]
    assert all(isinstance(v, str) for r in report.rows for v in r.metric_values)
    assert report.row_count == 3
    assert (report.currency_code, report.time_zone) == ("USD", "America/New_York")
    assert report.totals is not None
    assert int(report.totals[0]) == world_sum(world, "sessions")
    assert sum(int(r.metric_values[0]) for r in report.rows) == world_sum(world, "sessions")


async def test_limit_and_offset_are_sent_as_strings_and_row_count_stays_full(
        ga4: GA4Property, sim_client: httpx.AsyncClient) -> None:
    page = await ga4.run_report(january(("date", "sessionCampaignName"), ("sessions",), limit=25, offset=50))
    assert len(page.rows) == 25
    assert page.row_count > 75
    [logged] = (await sim_client.get("/__requests", params={"source": "ga4"})).json()
    body = json.loads(logged["body"])
    assert (body["limit"], body["offset"]) == ("25", "50")


async def test_unlimited_report_pages_to_the_last_row(
        transport: httpx.ASGITransport, sim_client: httpx.AsyncClient, ga4: GA4Property) -> None:
    request = january(("date", "sessionCampaignName"), ("sessions",))
    whole = await ga4.run_report(request)  # one default-size page holds the month
    small = GA4Property.from_settings(GA4Settings(base_url=BASE), transport=transport, page_size=50)
    try:
        await sim_client.post("/__reset")
        paged = await small.run_report(request)
    finally:
        await small.aclose()
    assert paged.row_count == whole.row_count > 500
    assert paged.rows == whole.rows
    assert len(set(paged.rows)) == paged.row_count
    assert (await ga4_calls(sim_client))[RUN_ROUTE] == -(-whole.row_count // 50)


async def test_in_list_filter_is_case_sensitive(ga4: GA4Property) -> None:
    report = await ga4.run_report(january(
        ("sessionCampaignName",), ("sessions",), in_list_dimension="sessionCampaignName",
        in_list_values=("Summer kickoff", "brand search")))
    assert [r.dimension_values for r in report.rows] == [("Summer kickoff",)]


async def test_twelve_reports_take_three_batch_calls_in_order(
        ga4: GA4Property, sim_client: httpx.AsyncClient) -> None:
    requests = [january(("date",), ("sessions",), limit=n + 1) for n in range(12)]
    reports = await ga4.batch_run_reports(requests)
    assert [len(r.rows) for r in reports] == list(range(1, 13))
    assert await ga4_calls(sim_client) == {BATCH_ROUTE: 3}


async def test_batch_sends_a_repeated_request_once(ga4: GA4Property, sim_client: httpx.AsyncClient) -> None:
    devices = january(("deviceCategory",), ("sessions",))
    dates = january(("date",), ("sessions",))
    reports = await ga4.batch_run_reports([devices, dates, devices])
    assert reports[0] == reports[2] and reports[0].row_count == 3 and reports[1].row_count == 31
    [logged] = (await sim_client.get("/__requests", params={"source": "ga4"})).json()
    assert len(json.loads(logged["body"])["requests"]) == 2


async def test_campaign_summaries_for_twenty_names_cost_one_call(
        ga4: GA4Property, sim_client: httpx.AsyncClient, world: World) -> None:
    names = sorted({r["sessionCampaignName"] for r in world.ga4_rows} - {"(direct)", "(organic)"})[:19]
    summaries = await ga4.campaign_summaries([*names, "Never ran", names[0]], "2026-01-01", "2026-01-31")
    assert await ga4_calls(sim_client) == {RUN_ROUTE: 1}
    assert "Never ran" not in summaries
    assert set(summaries) == {n for n in names if world_sum(world, "sessions", n)}
    first = summaries[names[0]]
    assert set(first) == {"sessions", "totalUsers", "newUsers", "conversions", "totalRevenue",
                          "engagementRate"}
    assert int(first["sessions"]) == world_sum(world, "sessions", names[0])
    assert float(first["totalRevenue"]) == pytest.approx(world_sum(world, "totalRevenue", names[0]))


async def test_no_campaign_names_means_no_call(ga4: GA4Property, sim_client: httpx.AsyncClient) -> None:
    assert await ga4.campaign_summaries([], "2026-01-01", "2026-01-31") == {}
    assert await ga4_calls(sim_client) == {}


async def test_a_wrong_token_is_an_auth_failure(transport: httpx.ASGITransport) -> None:
    wrong = GA4Property.from_settings(GA4Settings(base_url=BASE, token="ya29.expired"), transport=transport)
    try:
        with pytest.raises(UpstreamAuthFailed):
            await wrong.run_report(january(("date",), ("sessions",)))
    finally:
        await wrong.aclose()


async def test_an_unknown_metric_is_bad_user_input_in_our_words(ga4: GA4Property) -> None:
    with pytest.raises(BadUserInput) as caught:
        await ga4.run_report(january(("date",), ("sessions", "bounces")))
    assert caught.value.message == "GA4 rejected the report request: unknown or unsupported field(s) bounces"
    assert caught.value.extensions["fields"] == ["bounces"]


async def test_a_brief_429_is_retried(ga4: GA4Property, sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "ga4", "status": 429, "rate": 1.0, "seconds": 0.2})
    report = await ga4.run_report(january(("deviceCategory",), ("sessions",)))
    assert report.row_count == 3
    assert (await ga4_calls(sim_client))[RUN_ROUTE] >= 2


async def test_exhausted_property_tokens_are_upstream_rate_limited(
        transport: httpx.ASGITransport, sim_state: SimulatorState) -> None:
    impatient = GA4Property.from_settings(GA4Settings(base_url=BASE, max_retries=0), transport=transport)
    quota = property_quota(sim_state)
    quota.roll()
    quota.day_used = 200_000
    try:
        with pytest.raises(UpstreamRateLimited):
            await impatient.run_report(january(("date",), ("sessions",)))
    finally:
        await impatient.aclose()
