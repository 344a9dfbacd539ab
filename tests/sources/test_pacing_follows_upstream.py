"""Pacing follows what HubSpot's headers and GA4's propertyQuota say is available, up as well as down:
the configured quota is where it starts, never a cap, and never exceeded once the API has spoken."""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from harmonia.settings import GA4Settings, HubSpotSettings, load_settings
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.ga4 import property_quota
from harmonia.simulators.hubspot import throttle_for
from harmonia.sources.discipline import install
from harmonia.sources.ga4 import GA4Property
from harmonia.sources.hubspot import HubSpotContacts
from harmonia.sources.records import ReportRequest
from harmonia.sources.shared import SharedRedis

BASE = "http://simulators"


def simulators(world: World, **config: Any) -> tuple[SimulatorState, httpx.ASGITransport]:
    state = SimulatorState(SimulatorConfig(seed=7, **config), world=world)
    return state, httpx.ASGITransport(app=create_simulator_app(state=state))


def hubspot_window(state: SimulatorState, per_window: int, seconds: float) -> None:
    throttle = throttle_for(state)
    throttle.per_window, throttle.window_seconds = per_window, seconds


async def pages(contacts: HubSpotContacts, count: int) -> None:
    await asyncio.gather(*(contacts.list_contacts(1) for _ in range(count)))


@pytest.fixture
async def shared() -> AsyncIterator[SharedRedis]:
    url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the tests through scripts/with-redis.sh (make test)")
    client = redis.from_url(url)
    keys = [k async for k in client.scan_iter(match="harmonia:pace:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    connection = SharedRedis.connect(url)
    assert connection is not None
    yield connection
    await connection.aclose()


def shared_hubspot(transport: httpx.ASGITransport, shared: SharedRedis) -> HubSpotContacts:
    contacts = HubSpotContacts.from_settings(HubSpotSettings(base_url=f"{BASE}/hubspot"), transport=transport)
    install([("hubspot", contacts)], load_settings(), shared)
    return contacts


async def test_a_larger_hubspot_quota_than_configured_is_used(world: World) -> None:
    state, transport = simulators(world)
    hubspot_window(state, per_window=190, seconds=10.0)  # Professional, where 100 is configured
    contacts = HubSpotContacts.from_settings(HubSpotSettings(base_url=f"{BASE}/hubspot"), transport=transport)
    await contacts.list_contacts(1)  # the first answer's headers: Max 190
    await pages(contacts, 170)
    _, used = throttle_for(state).windows[next(iter(throttle_for(state).windows))]
    assert used == 171 and throttle_for(state).rejected == 0  # well past the configured 98, none refused
    await contacts.aclose()


async def test_a_smaller_hubspot_quota_than_configured_is_never_exceeded(world: World) -> None:
    state, transport = simulators(world)
    hubspot_window(state, per_window=20, seconds=1.0)
    contacts = HubSpotContacts.from_settings(HubSpotSettings(base_url=f"{BASE}/hubspot"), transport=transport)
    await contacts.list_contacts(1)
    await pages(contacts, 50)
    assert throttle_for(state).rejected == 0 and state.statuses["hubspot"].get("429") is None
    assert state.requests["hubspot"] == 51
    await contacts.aclose()


async def test_two_instances_use_a_larger_hubspot_quota_than_configured(world: World, shared: SharedRedis) -> None:
    state, transport = simulators(world)
    hubspot_window(state, per_window=190, seconds=10.0)
    a, b = shared_hubspot(transport, shared), shared_hubspot(transport, shared)
    await a.list_contacts(1)
    await asyncio.gather(pages(a, 80), pages(b, 80))
    _, used = throttle_for(state).windows[next(iter(throttle_for(state).windows))]
    assert used == 161 and throttle_for(state).rejected == 0
    await a.aclose()
    await b.aclose()


# HubSpot's window rolls (its 429 names TEN_SECONDLY_ROLLING) and calls reach it after a latency that
# varies: a pacer that keeps a window of its own, started when it sent, lets a new window's calls land
# while HubSpot still counts the last ones (CI saw 2 of 61 refused). Counted from sending until a
# window after the answer, no latency can make HubSpot see more than the limit.

async def test_a_varying_latency_never_lets_the_rolling_window_overflow(world: World) -> None:
    state, transport = simulators(world, latency_jitter_ms=400)
    hubspot_window(state, per_window=20, seconds=1.0)
    contacts = HubSpotContacts.from_settings(HubSpotSettings(base_url=f"{BASE}/hubspot"), transport=transport)
    await contacts.list_contacts(1)
    await pages(contacts, 60)
    assert throttle_for(state).rejected == 0 and state.requests["hubspot"] == 61
    await contacts.aclose()


@pytest.mark.parametrize(("jitter_ms", "calls"), [(0, 30), (400, 40)])
async def test_two_instances_share_hubspots_window_whatever_the_latency(world: World, shared: SharedRedis,
                                                                        jitter_ms: float, calls: int) -> None:
    state, transport = simulators(world, latency_jitter_ms=jitter_ms)
    hubspot_window(state, per_window=20, seconds=1.0)
    a, b = shared_hubspot(transport, shared), shared_hubspot(transport, shared)
    await a.list_contacts(1)
    await asyncio.gather(pages(a, calls), pages(b, calls))
    assert throttle_for(state).rejected == 0 and state.requests["hubspot"] == 1 + 2 * calls
    await a.aclose()
    await b.aclose()


async def test_calls_another_app_made_on_the_account_are_left_room(world: World, shared: SharedRedis) -> None:
    state, transport = simulators(world)
    hubspot_window(state, per_window=20, seconds=1.0)
    a, b = shared_hubspot(transport, shared), shared_hubspot(transport, shared)
    token = state.config.credentials["hubspot_token"]
    now = time.monotonic()
    throttle_for(state).counted[token] = deque([now] * 12)  # another integration's 12 calls just now
    await a.list_contacts(1)  # its answer: 7 left
    await asyncio.gather(pages(a, 20), pages(b, 20))
    assert throttle_for(state).rejected == 0 and state.requests["hubspot"] == 41
    await a.aclose()
    await b.aclose()


def reports(count: int) -> list[ReportRequest]:
    """Distinct one-day reports (identical ones would be sent once)."""
    return [ReportRequest(start_date=f"2024-05-{d:02d}", end_date=f"2024-05-{d:02d}", dimensions=("date",),
                          metrics=("sessions",), limit=10) for d in range(1, count + 1)]


async def test_an_analytics_360_property_runs_more_reports_at_once_than_configured(world: World) -> None:
    state, transport = simulators(world, latency_ms=150, ga4_concurrent_requests=50)
    ga4 = GA4Property.from_settings(GA4Settings(base_url=f"{BASE}/ga4"), transport=transport)
    await asyncio.gather(*(ga4.run_report(r) for r in reports(30)))
    quota = property_quota(state)
    assert quota.peak_in_flight > 10  # the configured 10 was only the start
    assert state.statuses["ga4"].get("429") is None
    await ga4.aclose()


async def test_a_property_with_fewer_free_slots_than_configured_is_never_overrun(world: World) -> None:
    state, transport = simulators(world, latency_ms=50, ga4_concurrent_requests=4)
    ga4 = GA4Property.from_settings(GA4Settings(base_url=f"{BASE}/ga4"), transport=transport)
    await ga4.run_report(reports(1)[0])  # GA4 says: 4 concurrent
    quota = property_quota(state)
    quota.peak_in_flight = 0
    await asyncio.gather(*(ga4.run_report(replace(r, limit=5)) for r in reports(20)))
    assert 1 < quota.peak_in_flight <= 4 and state.statuses["ga4"].get("429") is None
    await ga4.aclose()


async def test_two_instances_share_the_free_slots_ga4_reports(world: World, shared: SharedRedis) -> None:
    state, transport = simulators(world, latency_ms=50, ga4_concurrent_requests=4)
    a, b = (GA4Property.from_settings(GA4Settings(base_url=f"{BASE}/ga4"), transport=transport) for _ in range(2))
    for ga4 in (a, b):
        install([("ga4", ga4)], load_settings(), shared)
        await ga4.run_report(reports(1)[0])  # each learns: 4 concurrent
    quota = property_quota(state)
    quota.peak_in_flight = 0
    await asyncio.gather(*(g.run_report(replace(r, limit=5)) for g in (a, b) for r in reports(12)))
    assert 1 < quota.peak_in_flight <= 4 and state.statuses["ga4"].get("429") is None
    await a.aclose()
    await b.aclose()
