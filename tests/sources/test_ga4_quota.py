"""GA4's token quotas: asked for on every request, metered from the answers, and never overrun.

The simulator enforces a small hourly quota here, as GA4 does (429 RESOURCE_EXHAUSTED once spent);
the connector must stop first, on what ``propertyQuota`` says is left, and stay stopped until the hour
turns, without asking GA4 again meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from harmonia.errors import UpstreamRateLimited
from harmonia.settings import GA4Settings
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.ga4 import property_quota
from harmonia.sources.ga4 import GA4Property
from harmonia.sources.ga4_quota import PropertyQuotaMeter, next_hour, next_pacific_midnight
from harmonia.sources.records import ReportRequest

BASE = "http://simulators/ga4"
MONTH = ReportRequest(start_date="2026-01-01", end_date="2026-01-31", dimensions=("date",), metrics=("sessions",))


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def small_quota_sim(world: World) -> SimulatorState:
    """GA4 enforcing 40 tokens per hour (a report of a month of dates costs a few)."""
    return SimulatorState(SimulatorConfig(seed=7, ga4_tokens_per_hour=40), world=world)


@pytest.fixture
def sim(small_quota_sim: SimulatorState) -> FastAPI:
    return create_simulator_app(state=small_quota_sim)


@pytest.fixture
async def ga4(sim: FastAPI) -> AsyncIterator[GA4Property]:
    connector = GA4Property.from_settings(GA4Settings(base_url=BASE, quota_headroom=10),
                                          transport=httpx.ASGITransport(app=sim))
    yield connector
    await connector.aclose()


async def bodies(sim: FastAPI) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://simulators") as client:
        logged = (await client.get("/__requests", params={"source": "ga4"})).json()
    return [json.loads(entry["body"]) for entry in logged]


async def test_every_report_request_asks_for_the_property_quota(ga4: GA4Property, sim: FastAPI) -> None:
    await ga4.run_report(MONTH)
    await ga4.batch_run_reports([MONTH, ReportRequest(start_date="2026-02-01", end_date="2026-02-28",
                                                      dimensions=("deviceCategory",), metrics=("sessions",))])

    single, batch = await bodies(sim)
    assert single["returnPropertyQuota"] is True
    assert [r["returnPropertyQuota"] for r in batch["requests"]] == [True, True]


async def test_the_connector_stops_before_ga4_answers_429_and_until_the_hour_turns(
        ga4: GA4Property, small_quota_sim: SimulatorState) -> None:
    answered = 0
    with pytest.raises(UpstreamRateLimited) as stopped:
        for _ in range(40):  # 40 tokens: far fewer reports than this can fit
            await ga4.run_report(MONTH)
            answered += 1
    sent = small_quota_sim.requests["ga4"]
    for _ in range(3):
        with pytest.raises(UpstreamRateLimited):
            await ga4.run_report(MONTH)

    assert answered >= 3, "stopped long before the quota was near"
    assert small_quota_sim.statuses["ga4"].get("429", 0) == 0, "GA4 had to refuse Harmonia"
    assert small_quota_sim.requests["ga4"] == sent == answered, "asked GA4 again while the quota was spent"
    left = 40 - property_quota(small_quota_sim).hour_used
    assert 0 <= left < 10  # stopped within the headroom, not before it
    error = stopped.value
    assert error.code == "UPSTREAM_RATE_LIMITED" and error.source == "ga4"
    assert error.extensions["quota"] == "tokensPerHour"
    assert error.retry_after is not None and 0 < error.retry_after <= 3600  # until the top of the hour
    assert "tokens per hour" in error.message


async def test_a_429_naming_a_spent_quota_is_not_retried_and_stops_later_calls(
        ga4: GA4Property, small_quota_sim: SimulatorState) -> None:
    quota = property_quota(small_quota_sim)
    quota.roll()
    quota.day_used = quota.tokens_per_day  # spent by some other client of the property

    with pytest.raises(UpstreamRateLimited) as first:
        await ga4.run_report(MONTH)
    with pytest.raises(UpstreamRateLimited):
        await ga4.run_report(MONTH)

    assert small_quota_sim.statuses["ga4"]["429"] == 1  # one refusal, then no retry and no second ask
    assert small_quota_sim.requests["ga4"] == 1
    assert first.value.extensions["quota"] == "tokensPerDay"
    assert "midnight Pacific" in first.value.message


async def test_an_answer_without_property_quota_teaches_nothing() -> None:
    meter = PropertyQuotaMeter(headroom=50)
    now = at("2026-05-04T10:30:00")
    await meter.observe([None, {}, {"tokensPerHour": "3"}, {"tokensPerDay": {"consumed": 1}},
                         {"tokensPerHour": {"remaining": True}}, "propertyQuota"], now)
    await meter.check()  # nothing spent: no refusal


async def test_a_spent_quota_refuses_until_its_period_rolls_over() -> None:
    clock = Clock(at("2026-05-04T10:30:00"))  # 03:30 in Los Angeles (daylight saving time)
    meter = PropertyQuotaMeter(headroom=50, clock=clock)
    await meter.observe([{"tokensPerHour": {"consumed": 5, "remaining": 49},
                          "tokensPerDay": {"consumed": 5, "remaining": 150_000}}], clock.now)

    with pytest.raises(UpstreamRateLimited) as hourly:
        await meter.check()
    assert hourly.value.retry_after == 1800
    clock.now = at("2026-05-04T11:00:00")
    await meter.check()  # the next hour: GA4 is asked again

    await meter.observe([{"tokensPerDay": {"consumed": 5, "remaining": 0}}], clock.now)
    clock.now = at("2026-05-04T20:00:00")
    with pytest.raises(UpstreamRateLimited) as daily:
        await meter.check()
    assert daily.value.retry_after == at("2026-05-05T07:00:00") - clock.now  # midnight PDT
    clock.now = at("2026-05-05T07:00:00")
    await meter.check()


@pytest.mark.parametrize(("moment", "midnight"), [
    ("2026-01-15T12:00:00", "2026-01-16T08:00:00"),  # PST, UTC-8
    ("2026-03-08T05:00:00", "2026-03-08T08:00:00"),  # 21:00 PST on the eve of the change
    ("2026-03-08T12:00:00", "2026-03-09T07:00:00"),  # 05:00 PDT, the day daylight saving starts
    ("2026-11-01T06:59:59", "2026-11-01T07:00:00"),  # one second before midnight PDT
])
def test_daily_quotas_refresh_at_midnight_pacific_time(moment: str, midnight: str) -> None:
    assert next_pacific_midnight(at(moment)) == at(midnight)


def test_hourly_quotas_refresh_at_the_top_of_the_hour() -> None:
    assert next_hour(at("2026-05-04T10:59:59")) == at("2026-05-04T11:00:00")
    assert next_hour(at("2026-05-04T11:00:00")) == at("2026-05-04T12:00:00")
