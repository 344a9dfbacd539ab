"""GA4's token quota under sustained use, through two gateway instances sharing one Redis.

The simulator enforces a small hourly token quota (GA4 answers 429 RESOURCE_EXHAUSTED once it is
spent). The gateways must stop calling GA4 before that, on what its answers say is left, and both
must stop: campaigns keep answering (Mailchimp, Google Ads) with only their GA4 ``analytics`` null
and ``UPSTREAM_RATE_LIMITED`` at its path.
"""

from __future__ import annotations

import asyncio
from typing import Any

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.ga4 import property_quota
from tests.conftest import Gateway, gateway_over

TOKEN = "ya29.quota-test-token"  # an account of its own: its spent quota is no other test's
CAMPAIGNS = """{ campaigns(first: 5) { edges { node { name channel
  analytics(dateRange: {startDate: "2026-01-01", endDate: "2026-03-31"}) { sessions } } } } }"""


def sim_with(world: World, tokens_per_hour: int) -> SimulatorState:
    """Simulators enforcing their quotas (GA4's hourly one small), as the real APIs would."""
    config = SimulatorConfig(seed=7, ga4_tokens_per_hour=tokens_per_hour,
                             credentials={**DEMO_CREDENTIALS, "ga4_token": TOKEN})
    return SimulatorState(config, world=world)


def settings(url: str, headroom: int) -> dict[str, Any]:
    # No entity cache: every query asks GA4, as distinct dashboards' queries would.
    return {"redis_url": url, "cache": {"enabled": False},
            "sources": {"ga4": {"token": TOKEN, "quota_headroom": headroom}}}


def analytics_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in body.get("errors", []) if e["path"][-1] == "analytics"]


def campaigns_answered(body: dict[str, Any]) -> bool:
    edges = body["data"]["campaigns"]["edges"]
    return len(edges) == 5 and all(e["node"]["name"] and e["node"]["channel"] for e in edges)


async def test_two_gateways_stop_before_ga4_says_429_and_campaigns_keep_answering(
        world: World, shared_url: str) -> None:
    sim = sim_with(world, tokens_per_hour=60)
    async with gateway_over(sim, **settings(shared_url, 20)) as first, \
            gateway_over(sim, **settings(shared_url, 20)) as second:
        bodies: list[dict[str, Any]] = []
        for _ in range(30):  # waves of eight concurrent queries, four on each instance, until GA4 is stopped
            responses = await asyncio.gather(*(gateway.post(CAMPAIGNS) for gateway in [first, second] * 4))
            assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
            bodies += [r.json() for r in responses]
            if all(analytics_errors(b) for b in bodies[-8:]):
                break
        ga4_calls = sim.requests["ga4"]
        after: list[dict[str, Any]] = [await gateway.query(CAMPAIGNS) for gateway in (first, second, second, first)]

    answered_in_full = [b for b in bodies if "errors" not in b]
    assert len(answered_in_full) >= 3, "stopped long before the quota was near"
    assert all(analytics_errors(b) for b in bodies[-8:]), "never stopped"
    assert sim.statuses["ga4"].get("429", 0) == 0, "GA4 had to refuse Harmonia"
    assert sim.requests["ga4"] == ga4_calls, "GA4 was asked again while its quota was spent"
    assert 0 <= 60 - property_quota(sim).hour_used < 20
    for body in [bodies[-1], *after]:
        assert campaigns_answered(body), body
        errors = analytics_errors(body)
        assert errors and len(errors) == len(body["errors"]), body["errors"]
        for error in errors:
            assert error["path"][:2] == ["campaigns", "edges"] and error["path"][3:] == ["node", "analytics"]
            assert error["extensions"]["code"] == "UPSTREAM_RATE_LIMITED"
            assert error["extensions"]["source"] == "ga4"
            assert error["extensions"]["quota"] == "tokensPerHour"
            assert 1 <= error["extensions"]["retryAfterSeconds"] <= 3600
        assert all(e["node"]["analytics"] is None for e in body["data"]["campaigns"]["edges"])


async def test_a_quota_ga4_reports_spent_stops_the_other_instance_without_a_call(
        world: World, shared_url: str) -> None:
    sim = sim_with(world, tokens_per_hour=60)
    quota = property_quota(sim)
    quota.roll()
    quota.hour_used = 60  # spent by another client of the property: the gateways' first ask meets a 429
    async with gateway_over(sim, **settings(shared_url, 0)) as first, \
            gateway_over(sim, **settings(shared_url, 0)) as second:
        refused = await first.query(CAMPAIGNS)
        told = await second.query(CAMPAIGNS)
        again = await first.query(CAMPAIGNS)

    assert sim.statuses["ga4"]["429"] == 1, "a spent quota is not worth a retry"
    assert sim.requests["ga4"] == 1, "the second instance asked GA4 although the first had learnt"
    for body in (refused, told, again):
        assert campaigns_answered(body), body
        assert {e["extensions"]["code"] for e in analytics_errors(body)} == {"UPSTREAM_RATE_LIMITED"}
        assert len(analytics_errors(body)) == len(body["errors"]) == 5


async def test_other_sources_answer_while_ga4_is_stopped(world: World, shared_url: str) -> None:
    sim = sim_with(world, tokens_per_hour=60)
    quota = property_quota(sim)
    quota.roll()
    quota.hour_used = 60
    both = "{ customers(first: 3) { edges { node { email emailMarketingStatus } } } " + CAMPAIGNS[1:]
    async with gateway_over(sim, **settings(shared_url, 0)) as gateway:
        body = await query_twice(gateway, both)

    assert [e["node"]["email"] for e in body["data"]["customers"]["edges"]] and campaigns_answered(body)
    assert {e["extensions"]["source"] for e in body["errors"]} == {"ga4"}


async def query_twice(gateway: Gateway, query: str) -> dict[str, Any]:
    await gateway.query(query)  # learns the quota is spent
    return await gateway.query(query)  # refused here without asking GA4
