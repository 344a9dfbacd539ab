"""/metrics carries each source's quota: what it allows per second, what Harmonia consumed, what is left."""

from __future__ import annotations

from harmonia.simulators.core import SimulatorState
from tests.conftest import open_gateway
from tests.observability.promtext import samples, value

ANALYTICS = ('{ analytics(dateRange: {startDate: "2026-06-01", endDate: "2026-06-30"}, dimensions: ["country"], '
             'metrics: ["sessions"]) { rowCount } }')


async def test_quota_consumption_allowance_and_headroom_per_source(fast_sim_state: SimulatorState) -> None:
    gateway, close = await open_gateway(fast_sim_state)
    try:
        # The process's counters are cumulative (other gateways of this process count too): deltas.
        before = samples((await gateway.client.get("/metrics")).text)
        assert "errors" not in await gateway.query("{ customers(first: 3) { edges { node { email } } } }")
        assert "errors" not in await gateway.query("{ orders(first: 5) { edges { node { name } } } }")
        assert "errors" not in await gateway.query(ANALYTICS)
        found = samples((await gateway.client.get("/metrics")).text)
    finally:
        await close()

    def consumed(source: str, quota: str) -> float:
        name = "harmonia_upstream_quota_consumed_total"
        return value(found, name, source=source, quota=quota) - value(before, name, source=source, quota=quota)

    # HubSpot: one call against 100 requests per 10 s.
    assert consumed("hubspot", "requests_per_window") == 1
    assert value(found, "harmonia_upstream_quota_allowance_per_second", source="hubspot",
                 quota="requests_per_window") == 10
    # Shopify: the cost points its answers say the query actually cost, against the restore rate.
    assert consumed("shopify", "cost_points") > 0
    assert value(found, "harmonia_upstream_quota_allowance_per_second", source="shopify", quota="cost_points") > 0
    # GA4: the tokens GA4 says the report consumed, against 200,000 a day; what it says is left.
    tokens = consumed("ga4", "tokensPerDay")
    assert tokens > 0
    left = value(found, "harmonia_upstream_quota_headroom_ratio", source="ga4", quota="tokensPerDay")
    assert 0.99 < left < 1.0 and abs((1 - left) * 200_000 - tokens) < 1e-6 * 200_000 + 1
    assert value(found, "harmonia_circuit_open", circuit="ga4") == 0
