"""The `sources` query (the catalogue's data): every source's state, its last hour, and what feeds each field."""

from __future__ import annotations

from typing import Any

from tests.conftest import Gateway

CATALOG = """{ sources(step: 60) {
  sources { name vendor baseUrl apiVersion endOfSupport credentialKind credentialExpires scopes circuit
    quota { name description headroom allowancePerSecond } callsPerMinute latencyP50Ms latencyP99Ms errorRate
    cacheHitRatio series { at calls errors p50Ms p99Ms } }
  fields { typeName fieldName sources endpoint cacheTtlSeconds costWeight readers { role access } } } }"""


async def test_the_catalogue_shows_each_source_with_its_traffic_and_each_field_with_its_feed(gateway: Gateway) -> None:
    # Three documents over the same page: the first asks Shopify, the others find the page in the entity cache.
    for field in ("name", "createdAt", "financialStatus"):
        assert "errors" not in await gateway.query(f"{{ orders(first: 5) {{ edges {{ node {{ {field} }} }} }} }}")

    body: dict[str, Any] = await gateway.query(CATALOG)
    assert "errors" not in body
    catalog = body["data"]["sources"]
    by_name = {s["name"]: s for s in catalog["sources"]}
    assert set(by_name) == {"hubspot", "shopify", "mailchimp", "ga4", "googleads"}
    shopify = by_name["shopify"]
    assert shopify["vendor"] == "Shopify Admin API" and shopify["circuit"] == "closed"
    assert shopify["baseUrl"] == "http://simulators/shopify"
    # Shopify supports a quarterly version for twelve months (sources/versions.py); a static token.
    assert (shopify["apiVersion"], shopify["endOfSupport"]) == ("2026-10", "2027-10-01")
    assert (shopify["credentialKind"], shopify["credentialExpires"]) == ("static", "never")
    assert by_name["mailchimp"]["credentialKind"] == "api_key"
    assert (by_name["ga4"]["apiVersion"], by_name["ga4"]["endOfSupport"]) == ("v1beta", "none announced")
    assert shopify["quota"]["name"] == "cost_points" and 0 < shopify["quota"]["headroom"] <= 1
    assert len(shopify["series"]) == 60 and sum(p["calls"] for p in shopify["series"]) >= 1
    # The process's last hour: other tests' calls (and faults) in this process count too.
    assert shopify["latencyP50Ms"] is not None and 0 <= shopify["errorRate"] < 1
    assert shopify["cacheHitRatio"] is not None and shopify["cacheHitRatio"] > 0  # the two repeats hit

    fields = {(f["typeName"], f["fieldName"]): f for f in catalog["fields"]}
    status = fields[("Customer", "emailMarketingStatus")]
    assert status["sources"] == ["mailchimp"] and status["cacheTtlSeconds"] == 300
    email = {r["role"]: r["access"] for r in fields[("Customer", "email")]["readers"]}
    assert email["marketer"] == "READ" and email["analyst"] == "MASKED" and email["admin"] == "READ"
    assert fields[("Query", "analytics")]["costWeight"] == 20
    assert ("Query", "sources") not in fields, "the admin plane is not a row of the catalogue"


async def test_the_catalogue_is_for_admins_only(gateway: Gateway) -> None:
    body = await gateway.query("{ sources { sources { name } } }", role="marketer")
    # Refused (FORBIDDEN), or where the admin plane is hidden from non-admins, not even there.
    assert body["errors"][0]["extensions"]["code"] in {"FORBIDDEN", "GRAPHQL_VALIDATION_FAILED"}
    assert (body.get("data") or {}).get("sources") is None
    bad = await gateway.query("{ sources(step: 1) { sources { name } } }")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    page = await gateway.client.get("/admin/sources")
    assert page.status_code == 200 and "uplot.iife.min.js" in page.text and "sources(step" in page.text
