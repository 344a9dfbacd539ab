"""/metrics: the counters and histograms a scripted run should move, in Prometheus text."""

from __future__ import annotations

import time

from harmonia.simulators.core import Fault, SimulatorState
from tests.conftest import Gateway, open_gateway, token_for
from tests.observability.promtext import samples, value

ORDERS = "query Orders { orders(first: 5) { edges { node { name customer { email } } } } }"
STATS = "query Stats { campaigns(first: 2) { edges { node { name stats { clicks } } } } }"
TOO_COSTLY = ("query Costly { customers(first: 100) { edges { node { orders(first: 100) { edges { node { "
              "lineItems { title } } } } } } } }")


async def _scrape(gateway: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await gateway.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_a_scripted_run_moves_the_operation_upstream_cache_and_cost_metrics(gateway: Gateway) -> None:
    before = await _scrape(gateway)
    costs = 0
    for i in range(3):
        # A new alias each time: a new document, so the whole-response cache cannot answer it and the
        # repeats reach the entity cache (whose hits this test counts).
        body = await gateway.query(ORDERS.replace("{ orders(", f"{{ run{i}: orders(", 1))
        assert "errors" not in body
        costs += body["extensions"]["cost"]["actualQueryCost"]
    forbidden = await gateway.query(STATS, role="support")
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    costs += forbidden["extensions"]["cost"]["actualQueryCost"]
    assert (await gateway.query(TOO_COSTLY))["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert (await gateway.client.post("/graphql", json={"query": ORDERS})).status_code == 401
    after = await _scrape(gateway)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Operations by name and outcome; the outcome label keeps its old meaning (codes, or OK).
    assert delta("harmonia_operations_total", operation="Orders", outcome="OK") == 3
    assert delta("harmonia_operations_total", operation="Stats", outcome="FORBIDDEN") == 1
    assert delta("harmonia_operations_total", operation="Costly", outcome="COST_LIMIT_EXCEEDED") == 1
    assert delta("harmonia_operations_total", outcome="UNAUTHENTICATED") == 1
    assert delta("harmonia_operations_total") == 6
    assert delta("harmonia_operation_duration_seconds_count", operation="Orders") == 3
    assert delta("harmonia_operation_duration_seconds_bucket", operation="Orders", le="+Inf") == 3
    buckets = sorted((float(dict(k)["le"]), v) for (n, k), v in after.items()
                     if n == "harmonia_operation_duration_seconds_bucket" and dict(k)["operation"] == "Orders")
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "buckets are cumulative"
    assert delta("harmonia_operation_duration_seconds_sum", operation="Orders") > 0

    # Upstream calls: exactly what the simulators saw, by source and route template.
    assert delta("harmonia_upstream_requests_total") == sum(gateway.upstream_calls().values())
    assert delta("harmonia_upstream_requests_total", source="shopify", method="POST",
                 route="/admin/api/2026-10/graphql.json", status="200") == \
        gateway.routes("shopify")["POST /admin/api/{version}/graphql.json"] == 1
    assert delta("harmonia_upstream_duration_seconds_count", source="hubspot") == gateway.upstream_calls()["hubspot"]
    assert delta("harmonia_upstream_errors_total") == 0

    # The cache: the first Orders missed tier 1, the two after it hit it.
    assert delta("harmonia_cache_lookups_total", source="shopify", tier="memory", outcome="miss") >= 1
    assert delta("harmonia_cache_lookups_total", source="shopify", tier="memory", outcome="hit") >= 2
    assert delta("harmonia_cache_lookups_total", source="hubspot", tier="memory", outcome="hit") >= 2

    # Cost: points spent (under one client label by default: see test_metrics_privacy.py), the refusal,
    # the budget left.
    assert delta("harmonia_cost_points_total", client="all") == costs
    assert delta("harmonia_cost_rejections_total", reason="COST_LIMIT_EXCEEDED") == 1
    assert 0 < value(after, "harmonia_budget_available_points", client="all") <= 20000


async def test_upstream_errors_are_counted_by_source_route_and_status(gateway: Gateway) -> None:
    before = await _scrape(gateway)
    gateway.sim.faults["mailchimp"] = Fault(status=503, rate=1.0, latency_ms=0, until=time.monotonic() + 30)
    body = await gateway.query("query Email { campaigns(first: 2) { edges { node { name } } } }")
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    after = await _scrape(gateway)

    tries = gateway.upstream_calls()["mailchimp"]
    assert tries >= 2, "reads are retried"
    assert value(after, "harmonia_upstream_errors_total", source="mailchimp", route="/3.0/campaigns",
                 error="503") - value(before, "harmonia_upstream_errors_total", source="mailchimp",
                                      route="/3.0/campaigns", error="503") == tries
    assert value(after, "harmonia_upstream_requests_total", source="mailchimp", status="503") - \
        value(before, "harmonia_upstream_requests_total", source="mailchimp", status="503") == tries


async def test_an_open_redis_circuit_shows_on_metrics(fast_sim_state: SimulatorState) -> None:
    # Nothing listens on port 1: the first Redis command fails at once and opens the circuit.
    gateway, close = await open_gateway(fast_sim_state, redis_url="redis://127.0.0.1:1/0")
    try:
        assert "errors" not in await gateway.query(ORDERS)
        found = samples((await gateway.client.get("/metrics")).text)
    finally:
        await close()
    assert value(found, "harmonia_circuit_open", circuit="redis") == 1


async def test_metrics_answer_without_a_token_and_name_no_secret(gateway: Gateway) -> None:
    token = token_for("admin", sub="ana@example.com")
    await gateway.query(ORDERS, token=token)
    text = (await gateway.client.get("/metrics")).text
    assert token not in text and "ana@example.com" not in text
    assert 'client="sha256:' not in text and 'client="all"' in text, "no per-user series, not even hashed"


async def test_redis_tier_hits_are_counted(fast_sim_state: SimulatorState, redis_url: str) -> None:
    first, close_first = await open_gateway(fast_sim_state, redis_url=redis_url)
    second, close_second = await open_gateway(fast_sim_state, redis_url=redis_url)
    try:
        assert "errors" not in await first.query(ORDERS)  # fetched, and written to Redis
        before = samples((await second.client.get("/metrics")).text)
        calls = sum(second.upstream_calls().values())
        assert "errors" not in await second.query(ORDERS)
        after = samples((await second.client.get("/metrics")).text)
    finally:
        await close_first()
        await close_second()
    assert sum(second.upstream_calls().values()) == calls, "the second instance answered from Redis"
    hits = value(after, "harmonia_cache_lookups_total", tier="redis", outcome="hit") - \
        value(before, "harmonia_cache_lookups_total", tier="redis", outcome="hit")
    misses = value(after, "harmonia_cache_lookups_total", tier="memory", outcome="miss") - \
        value(before, "harmonia_cache_lookups_total", tier="memory", outcome="miss")
    assert hits >= 2 and misses == hits, "every tier-1 miss was a Redis hit"
