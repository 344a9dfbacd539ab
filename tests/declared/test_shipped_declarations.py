"""The two shipped declarations (Meta Ads, Klaviyo) through the whole gateway, with exact upstream calls.

Nothing here is Python written for Meta or Klaviyo: the gateway reads the two YAML files of
harmonia/sources/declared/shipped and the simulators answer in the vendors' wire formats.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, unquote_plus, urlparse

import pytest

from harmonia.simulators.core import Fault, SimulatorConfig, SimulatorState
from harmonia.simulators.data import SOCIAL_CAMPAIGNS, World
from harmonia.sources.normalize import normalize_email
from tests.conftest import Gateway, declared_settings, gateway_over

CAMPAIGNS = """{ campaigns(first: 100) { totalCount edges { node { id name channel status
  stats { clicks impressions cost { amount currencyCode } conversions ctr } } } } }"""


@pytest.fixture
async def declared(world: World) -> AsyncIterator[Gateway]:
    async with gateway_over(SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world),
                            **declared_settings()) as gw:
        yield gw


async def test_campaigns_lists_email_search_and_meta_campaigns_with_stats(declared: Gateway, world: World) -> None:
    body = await declared.query(CAMPAIGNS)
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["campaigns"]["edges"]]
    by_channel = {c: [n["name"] for n in nodes if n["channel"] == c] for c in ("EMAIL", "SEARCH", "SOCIAL")}
    assert by_channel["EMAIL"] == [c["settings"]["title"] for c in world.campaigns]
    assert by_channel["SEARCH"] == [c["name"] for c in world.ads_campaigns]
    assert by_channel["SOCIAL"] == SOCIAL_CAMPAIGNS
    assert body["data"]["campaigns"]["totalCount"] == len(nodes)
    reels = next(n for n in nodes if n["name"] == "Reels - Trail Season")
    assert reels["status"] == "ACTIVE"
    stats = reels["stats"]
    assert stats["impressions"] > 0 and stats["clicks"] > 0 and stats["conversions"] > 0
    assert stats["cost"]["currencyCode"] == "USD" and "." in stats["cost"]["amount"]   # exact decimal string
    assert stats["ctr"] == round(stats["clicks"] / stats["impressions"], 6)
    # The campaign that never delivered has no insights row: zero, not null, not an error.
    idle = next(n for n in nodes if n["name"] == "Brand Awareness - Video")["stats"]
    assert idle == {"clicks": 0, "impressions": 0, "cost": {"amount": "0.00", "currencyCode": "USD"},
                    "conversions": 0.0, "ctr": None}
    # Eight Meta campaigns: one list call (a page holds 100), one insights call (the batch holds 50).
    assert declared.routes("meta_ads") == {"GET /{version}/{account_id}/campaigns": 1,
                                           "GET /{version}/{account_id}/insights": 1}


async def test_meta_insights_ask_for_the_campaigns_on_the_page_only_and_lifetime_by_default(declared: Gateway) -> None:
    await declared.query(CAMPAIGNS)
    [call] = [r for r in declared.log("meta_ads") if r["route"].endswith("/insights")]
    query = parse_qs(call["query"])
    assert query["level"] == ["campaign"] and query["date_preset"] == ["maximum"]
    assert '"operator":"IN"' in query["filtering"][0]
    assert query["filtering"][0].count("1202100000") == len(SOCIAL_CAMPAIGNS)


async def test_meta_stats_for_a_date_range_use_a_time_range(declared: Gateway) -> None:
    body = await declared.query("""{ campaigns(first: 100) { edges { node { channel
        stats(dateRange: {startDate: "2026-01-01", endDate: "2026-01-31"}) { impressions } } } } }""")
    social = [e["node"]["stats"]["impressions"] for e in body["data"]["campaigns"]["edges"]
              if e["node"]["channel"] == "SOCIAL"]
    assert all(isinstance(v, int) for v in social) and sum(social) > 0
    [call] = [r for r in declared.log("meta_ads") if r["route"].endswith("/insights")]
    assert parse_qs(call["query"])["time_range"] == ['{"since":"2026-01-01","until":"2026-01-31"}']


async def test_klaviyo_profiles_of_fifty_customers_cost_one_klaviyo_call(declared: Gateway, world: World) -> None:
    body = await declared.query("""{ customers(first: 50) { edges { node { email
        klaviyoProfile { id email firstName phoneNumber createdAt city } } } } }""")
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert len(nodes) == 50
    found = [n for n in nodes if n["klaviyoProfile"] is not None]
    assert 20 < len(found) < 50   # about seven in ten contacts have a profile
    assert all(n["klaviyoProfile"]["email"] == n["email"] for n in found)
    assert declared.routes("klaviyo") == {"GET /api/profiles": 1}
    [call] = declared.log("klaviyo")
    asked = parse_qs(call["query"])
    assert asked["page[size]"] == ["100"]
    emails = unquote_plus(asked["filter"][0])
    assert emails.startswith("any(email,[") and emails.count("@") == len({n["email"] for n in nodes})


async def test_a_hundred_and_fifty_customers_cost_two_klaviyo_calls_of_at_most_a_hundred(declared: Gateway) -> None:
    first = await declared.query("{ customers(first: 100) { pageInfo { endCursor } } }")
    after = first["data"]["customers"]["pageInfo"]["endCursor"]
    body = await declared.query("""query($after: String) {
        a: customers(first: 100) { edges { node { email klaviyoProfile { id } } } }
        b: customers(first: 50, after: $after) { edges { node { email klaviyoProfile { id } } } } }""",
                                {"after": after})
    assert "errors" not in body
    calls = declared.log("klaviyo")
    assert len(calls) == 2
    asked = sorted(unquote_plus(parse_qs(c["query"])["filter"][0]).count("@") for c in calls)
    emails = {e["node"]["email"] for part in ("a", "b") for e in body["data"][part]["edges"] if e["node"]["email"]}
    assert sum(asked) == len(emails) and max(asked) <= 100


async def test_orders_attribute_to_meta_campaigns_by_utm_campaign(declared: Gateway, world: World) -> None:
    body = await declared.query("{ orders(first: 100) { edges { node { name campaign { name channel } } } } }")
    assert "errors" not in body
    expected = {}
    for order in world.orders[:100]:
        campaign = parse_qs(urlparse(order["landing_site"]).query).get("utm_campaign", [None])[0]
        expected[order["name"]] = campaign
    social = {e["node"]["name"]: e["node"]["campaign"]["name"] for e in body["data"]["orders"]["edges"]
              if e["node"]["campaign"] and e["node"]["campaign"]["channel"] == "SOCIAL"}
    assert social, "some orders of the first page came from a Meta ad"
    assert all(expected[name] == campaign for name, campaign in social.items())
    assert all(campaign in SOCIAL_CAMPAIGNS for campaign in social.values())
    # Every order whose utm_campaign names a Meta campaign is attributed to it.
    assert {n for n, c in expected.items() if c in SOCIAL_CAMPAIGNS} == set(social)
    assert declared.routes("meta_ads") == {"GET /{version}/{account_id}/campaigns": 1}


async def test_a_meta_campaign_is_a_node_by_its_global_id(declared: Gateway) -> None:
    body = await declared.query(CAMPAIGNS)
    reels = next(e["node"] for e in body["data"]["campaigns"]["edges"] if e["node"]["name"] == "Reels - Trail Season")
    again = await declared.query("query($id: ID!) { campaign(id: $id) { name channel stats { clicks } } }",
                                 {"id": reels["id"]})
    assert again["data"]["campaign"] == {"name": "Reels - Trail Season", "channel": "SOCIAL",
                                         "stats": {"clicks": reels["stats"]["clicks"]}}


async def test_klaviyo_is_asked_with_its_key_and_revision_and_emails_normalized(declared: Gateway) -> None:
    await declared.query('{ customerByEmail(email: "  LEON.Hamilton0@shop.example.net ") { klaviyoProfile { id } } }')
    [call] = declared.log("klaviyo")
    assert normalize_email("leon.hamilton0@shop.example.net") in unquote_plus(call["query"])


async def test_klaviyo_down_is_upstream_unavailable_on_the_field_only(declared: Gateway) -> None:
    declared.sim.faults["klaviyo"] = Fault(status=503, rate=1.0, latency_ms=0, until=time.monotonic() + 30)
    body = await declared.query("{ customers(first: 3) { edges { node { email klaviyoProfile { id } } } } }")
    assert [e["node"]["email"] is not None for e in body["data"]["customers"]["edges"]] == [True] * 3
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    assert all(e["path"][-1] == "klaviyoProfile" for e in body["errors"])
    assert "Injected" not in str(body)   # the upstream's own body never reaches the client


async def test_the_catalogue_lists_the_declared_sources_beside_the_built_in_five(declared: Gateway) -> None:
    assert "errors" not in await declared.query(CAMPAIGNS)  # Meta Ads has answered once
    body = await declared.query("""{ sources(step: 60) { sources { name vendor baseUrl apiVersion endOfSupport
        credentialKind circuit quota { name description } series { calls } } } }""")
    assert "errors" not in body, body
    by_name = {s["name"]: s for s in body["data"]["sources"]["sources"]}
    assert set(by_name) == {"hubspot", "shopify", "mailchimp", "ga4", "googleads", "klaviyo", "meta_ads"}
    meta = by_name["meta_ads"]
    assert meta["vendor"].endswith("(declared)") and meta["circuit"] == "closed"
    assert meta["apiVersion"].startswith("v") and meta["baseUrl"].startswith("http://")
    assert "?" not in meta["baseUrl"] and "access_token" not in meta["baseUrl"]
    assert sum(p["calls"] for p in meta["series"]) >= 2
    assert by_name["klaviyo"]["apiVersion"] and by_name["klaviyo"]["quota"] is not None
