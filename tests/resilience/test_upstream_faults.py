"""Fault injection per source through the simulators' ``/__faults``: 503s, timeouts, latency spikes,
connection resets and 429 storms. For each: no 5xx, the failing source's fields null with its code
at their paths, everything else answered, and full answers again (circuit closed) once the fault ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.sources.discipline import circuit_of
from tests.conftest import SOURCES, Gateway, gateway_settings

RESET_SECONDS = 0.4
# Tight but realistic shapes: one retry, a 0.25 s attempt, a 2 s operation, 3 failures open a circuit.
FAST_SOURCE = {"connect_timeout": 0.05, "read_timeout": 0.2, "max_retries": 1}
UPSTREAM = {"operation_deadline": 2.0, "circuit_failure_threshold": 3, "circuit_reset_seconds": RESET_SECONDS}
RANGE = '{startDate: "2026-01-01", endDate: "2026-03-31"}'


def fault_settings(**overrides: Any) -> Any:
    sources = {name: dict(FAST_SOURCE) for name in SOURCES}
    upstream = {**UPSTREAM, **overrides.pop("upstream", {})}
    # Upstream discipline alone: with the entity cache on, repeated probes would be answered from it.
    overrides.setdefault("cache", {"enabled": False})
    return gateway_settings(sources=sources, upstream=upstream, **overrides)


async def build_gateway(sim: SimulatorState, **overrides: Any) -> tuple[Gateway, FastAPI]:
    from harmonia.app import create_app

    sim_app = create_simulator_app(state=sim)
    app = create_app(fault_settings(**overrides), transports=dict.fromkeys(SOURCES, httpx.ASGITransport(app=sim_app)))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    return Gateway(app, client, sim), sim_app


@pytest.fixture
async def resilient(world: World) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
    gateway, sim_app = await build_gateway(sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url="http://sim") as control:
        yield gateway, control
    await gateway.client.aclose()
    await gateway.app.state.aclose()


@dataclass(frozen=True)
class Probe:
    """A query touching ``source`` where its fields are nullable, and something else that must answer."""

    query: str
    fields: frozenset[str]  # the last path element of every error this source may cause

    def healthy_part(self, data: dict[str, Any]) -> bool:
        return bool(data.get("customers", {}).get("edges")) or bool(data.get("orders", {}).get("edges")) \
            or bool(data.get("campaigns", {}).get("edges"))


PROBES = {
    "hubspot": Probe("{ orders(first: 3) { edges { node { name customer { email } } } } }",
                     frozenset({"customer"})),
    "shopify": Probe("{ customers(first: 3) { edges { node { email totalSpent { amount } ordersCount } } } }",
                     frozenset({"totalSpent", "ordersCount"})),
    "mailchimp": Probe("{ customers(first: 3) { edges { node { email emailMarketingStatus } } } }",
                       frozenset({"emailMarketingStatus"})),
    "ga4": Probe(f"{{ campaigns(first: 3) {{ edges {{ node {{ name analytics(dateRange: {RANGE}) "
                 "{ sessions } } } } }", frozenset({"analytics"})),
    # The campaign's id is filled in per test: a Google Ads campaign, beside customers from HubSpot.
    "googleads": Probe("query($id: ID!) { customers(first: 2) { edges { node { email } } } "
                       "campaign(id: $id) { name stats { clicks } } }", frozenset({"campaign"})),
}

FAULTS = {
    "503": ({"status": 503}, {"UPSTREAM_UNAVAILABLE"}, True),
    "reset": ({"kind": "reset"}, {"UPSTREAM_UNAVAILABLE"}, True),
    "timeout": ({"kind": "timeout"}, {"UPSTREAM_TIMEOUT", "UPSTREAM_UNAVAILABLE"}, True),
    "429-storm": ({"status": 429}, {"UPSTREAM_RATE_LIMITED"}, False),
}


async def ads_campaign_id(gateway: Gateway) -> str:
    body = await gateway.query("{ campaigns(first: 100) { edges { node { id channel } } } }")
    return next(e["node"]["id"] for e in body["data"]["campaigns"]["edges"] if e["node"]["channel"] == "SEARCH")


async def ask(gateway: Gateway, source: str, variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await gateway.post(PROBES[source].query, variables or None)
    return response.status_code, response.json()


@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("source", SOURCES)
async def test_a_failing_source_nulls_only_its_fields_and_recovers(
        resilient: tuple[Gateway, httpx.AsyncClient], source: str, fault_name: str) -> None:
    gateway, control = resilient
    fault, codes, opens_circuit = FAULTS[fault_name]
    probe = PROBES[source]
    variables = {"id": await ads_campaign_id(gateway)} if source == "googleads" else {}

    response = await control.post("/__faults", json={"source": source, "rate": 1.0, "latency_ms": 0,
                                                     "seconds": 30, **fault})
    assert response.status_code == 200
    seen: set[str] = set()
    for _ in range(3):
        status, body = await ask(gateway, source, variables)
        assert status == 200
        assert probe.healthy_part(body["data"]), body
        assert body["errors"], body
        for error in body["errors"]:
            assert error["path"][-1] in probe.fields, error
            assert error["extensions"]["source"] == source
            seen.add(error["extensions"]["code"])
        assert "Injected" not in str(body)
    assert seen <= codes and seen, seen
    if fault_name == "timeout":
        assert "UPSTREAM_TIMEOUT" in seen
    circuit = circuit_of(getattr(gateway.app.state.sources, source))
    assert circuit is not None
    assert (await circuit.state() == "open") is opens_circuit

    assert (await control.delete("/__faults")).status_code == 200
    await asyncio.sleep(RESET_SECONDS + 0.05)
    status, body = await ask(gateway, source, variables)
    assert status == 200 and "errors" not in body, body
    assert await circuit.state() == "closed"


@pytest.mark.parametrize("source", SOURCES)
async def test_a_latency_spike_under_the_timeout_still_answers_in_full(
        resilient: tuple[Gateway, httpx.AsyncClient], source: str) -> None:
    gateway, control = resilient
    variables = {"id": await ads_campaign_id(gateway)} if source == "googleads" else {}
    await control.post("/__faults", json={"source": source, "status": 200, "rate": 1.0, "latency_ms": 80,
                                          "seconds": 30})
    status, body = await ask(gateway, source, variables)
    assert status == 200 and "errors" not in body, body


async def test_an_open_circuit_answers_at_once_without_calling_the_source(
        resilient: tuple[Gateway, httpx.AsyncClient]) -> None:
    gateway, control = resilient
    await control.post("/__faults", json={"source": "mailchimp", "status": 503, "rate": 1.0, "seconds": 30})
    for _ in range(2):
        await ask(gateway, "mailchimp", {})
    calls = gateway.upstream_calls()["mailchimp"]

    status, body = await ask(gateway, "mailchimp", {})

    assert status == 200
    assert gateway.upstream_calls()["mailchimp"] == calls  # refused here, not sent
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    assert all(e["extensions"].get("circuit") == "open" for e in body["errors"])


async def test_a_shopify_429_storm_is_backed_off_not_hammered(resilient: tuple[Gateway, httpx.AsyncClient]) -> None:
    # 429s with neither Retry-After nor a throttle status say nothing of when to come back: the
    # connector waits, doubling, instead of asking again at once (120 calls in the 2 s deadline before).
    gateway, control = resilient
    await control.post("/__faults", json={"source": "shopify", "status": 429, "rate": 1.0, "latency_ms": 0,
                                          "seconds": 30})
    before = gateway.upstream_calls().get("shopify", 0)

    status, body = await ask(gateway, "shopify", {})

    calls = gateway.upstream_calls().get("shopify", 0) - before
    assert status == 200
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_RATE_LIMITED"}
    # Each of the operation's Shopify queries (two here) asks at 0 s, ~0.5 s and ~1.5 s; the next wait
    # (~2 s) would outlast the deadline, so it answers then.
    assert 1 <= calls <= 6, calls
