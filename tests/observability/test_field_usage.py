"""fieldUsage: per Type.field per client, counted once per operation, in Redis across instances."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis
from graphql import build_schema, parse

from harmonia.observability.usage import FieldUsage, deprecated_fields
from harmonia.simulators.core import SimulatorState
from tests.conftest import Gateway, open_gateway, token_for

ORDERS = "query Orders { orders(first: 5) { edges { node { name customer { email } } } } }"
CUSTOMERS = "query Customers { customers(first: 50) { edges { node { email phone } } } }"
REPORT = """
query Usage($client: String, $type: String) { fieldUsage(hours: 2, client: $client, type: $type) {
  hours fields { coordinate typeName fieldName client count firstSeen lastSeen byHour { hour count } }
  deprecated { coordinate reason count lastUsedDay clients { client count lastSeen lastUsedDay } } } }
"""


def _counts(report: dict[str, Any], *clients: str) -> dict[tuple[str, str], int]:
    return {(f["coordinate"], f["client"]): f["count"] for f in report["fields"] if f["client"] in clients}


async def _scripted_run(gateway: Gateway) -> None:
    for _ in range(3):
        assert "errors" not in await gateway.query(ORDERS, token=token_for("analyst", sub="bi-tool"))
    for _ in range(2):
        assert "errors" not in await gateway.query(CUSTOMERS, token=token_for("marketer", sub="crm-app"))


EXPECTED = {
    ("Query.orders", "bi-tool"): 3, ("OrderConnection.edges", "bi-tool"): 3, ("OrderEdge.node", "bi-tool"): 3,
    ("Order.name", "bi-tool"): 3, ("Order.customer", "bi-tool"): 3, ("Customer.email", "bi-tool"): 3,
    # Fifty customers' emails per operation still count once per operation.
    ("Query.customers", "crm-app"): 2, ("CustomerConnection.edges", "crm-app"): 2,
    ("CustomerEdge.node", "crm-app"): 2, ("Customer.email", "crm-app"): 2, ("Customer.phone", "crm-app"): 2,
}


async def test_field_usage_returns_the_counts_of_a_scripted_run_by_client(gateway: Gateway) -> None:
    await _scripted_run(gateway)

    body = await gateway.query(REPORT)
    assert "errors" not in body
    report = body["data"]["fieldUsage"]
    assert report["hours"] == 2
    assert _counts(report, "bi-tool", "crm-app") == EXPECTED
    row = next(f for f in report["fields"] if f["coordinate"] == "Customer.email" and f["client"] == "bi-tool")
    assert (row["typeName"], row["fieldName"]) == ("Customer", "email")
    assert sum(h["count"] for h in row["byHour"]) == 3 and row["lastSeen"] == row["byHour"][-1]["hour"]
    assert row["lastSeen"].endswith(":00:00Z")
    assert report["deprecated"] == []  # nothing in today's schema is deprecated

    only = (await gateway.query(REPORT, {"client": "crm-app", "type": "Customer"}))["data"]["fieldUsage"]
    assert {(f["coordinate"], f["client"]) for f in only["fields"]} == {("Customer.email", "crm-app"),
                                                                         ("Customer.phone", "crm-app")}


async def test_field_usage_is_for_admins_only(gateway: Gateway) -> None:
    body = await gateway.query(REPORT, role="marketer")
    assert body.get("data") is None  # not there for anyone else: a validation error, no roles named
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    bad = await gateway.query("{ fieldUsage(hours: 0) { hours } }")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_deprecated_field_lists_its_remaining_users(gateway: Gateway) -> None:
    # As a schema owner would with @deprecated: the running schema marks Customer.phone deprecated.
    gateway.app.state.pipeline.schema.type_map["Customer"].fields["phone"].deprecation_reason = "Use phoneE164"
    await _scripted_run(gateway)

    report = (await gateway.query(REPORT))["data"]["fieldUsage"]
    [phone] = report["deprecated"]
    assert phone["coordinate"] == "Customer.phone" and phone["reason"] == "Use phoneE164"
    assert phone["count"] == 2 and [(c["client"], c["count"]) for c in phone["clients"]] == [("crm-app", 2)]
    day = phone["clients"][0]["lastSeen"][:10]  # the day of the hour it was last used
    assert phone["lastUsedDay"] == day == phone["clients"][0]["lastUsedDay"]
    assert day >= (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d")


@pytest.fixture
async def usage_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"test-usage-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_instances_share_their_counts_through_redis_in_batches(
    fast_sim_state: SimulatorState, redis_url: str, usage_prefix: str
) -> None:
    # A long flush interval: nothing reaches Redis until a report (or shutdown) flushes the batch.
    settings: dict[str, Any] = {"redis_url": redis_url, "observability": {
        "field_usage_key_prefix": usage_prefix, "field_usage_flush_seconds": 3600}}
    first, close_first = await open_gateway(fast_sim_state, **settings)
    second, close_second = await open_gateway(fast_sim_state, **settings)
    client = redis.Redis.from_url(redis_url)
    try:
        for _ in range(3):
            await first.query(ORDERS, token=token_for("analyst", sub="bi-tool"))
        for _ in range(2):
            await second.query(CUSTOMERS, token=token_for("marketer", sub="crm-app"))
        assert [k async for k in client.scan_iter(match=f"{usage_prefix}*")] == [], "counts wait in process"

        await close_first()  # shutting down flushes what is pending
        [key] = [k async for k in client.scan_iter(match=f"{usage_prefix}*")]
        assert await client.ttl(key) > 29 * 24 * 3600, "kept for the retention period"
        report = (await second.query(REPORT))["data"]["fieldUsage"]  # flushes the second's own batch
        assert _counts(report, "bi-tool", "crm-app") == EXPECTED
    finally:
        await close_second()
        await client.aclose()


def test_coordinates_follow_fragments_and_leave_out_introspection() -> None:
    schema = build_schema("""
        interface Node { id: ID! }
        type User implements Node { id: ID!  name: String  legacy: String @deprecated(reason: "gone soon") }
        type Query { node(id: ID!): Node  me: User }
    """)
    document = parse("""
        query Q { __typename me { ...Who } node(id: "1") { id ... on User { legacy } } }
        fragment Who on User { name ...Who2 }  fragment Who2 on User { id }
    """)
    usage = FieldUsage()
    operation = document.definitions[0]
    coords = usage.coordinates(schema, document, operation)  # type: ignore[arg-type]
    assert coords == {"Query.me", "User.name", "User.id", "Query.node", "Node.id", "User.legacy"}
    assert usage.coordinates(schema, document, operation) is coords, "computed once per document"  # type: ignore[arg-type]
    assert deprecated_fields(schema) == [("User.legacy", "gone soon")]


async def test_report_windows_by_hour() -> None:
    usage = FieldUsage()
    now = 1_800_000_000.0
    usage.record("a", frozenset({"User.name"}), now=now - 3 * 3600)
    usage.record("a", frozenset({"User.name", "User.id"}), now=now)
    usage.record("b", frozenset({"User.name"}), now=now)

    recent = await usage.report(1, now=now)
    assert [(r.coordinate, r.client, r.count) for r in recent] == [
        ("User.id", "a", 1), ("User.name", "a", 1), ("User.name", "b", 1)]
    [older] = [r for r in await usage.report(4, now=now) if r.client == "a" and r.coordinate == "User.name"]
    assert older.count == 2 and len(older.by_hour) == 2 and older.first_seen < older.last_seen
