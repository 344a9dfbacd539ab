"""Field usage per client: graphql-client-name first, and no caller can blow up memory by inventing names."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
import redis.asyncio as redis

from harmonia.observability.usage import OPERATIONS, FieldUsage
from harmonia.simulators.core import SimulatorState
from tests.conftest import TEST_JWT_SECRET, open_gateway, token_for

QUERY = "query Names { campaigns(first: 1) { edges { node { name } } } }"
REPORT = "{ fieldUsage(hours: 1, type: \"Campaign\") { fields { client count } } }"


def _clients(body: dict[str, Any]) -> dict[str, int]:
    return {f["client"]: f["count"] for f in body["data"]["fieldUsage"]["fields"]}


async def test_the_client_is_the_header_else_the_client_claim_else_the_token_subject(
        fast_sim_state: SimulatorState) -> None:
    gateway, close = await open_gateway(fast_sim_state, auth={"client_claim": "azp"})
    try:
        with_claim = jwt.encode({"sub": "ana", "roles": ["marketer"], "azp": "bi-tool", "exp": time.time() + 600},
                                TEST_JWT_SECRET, algorithm="HS256")
        await gateway.post(QUERY, token=with_claim, headers={"graphql-client-name": "web-dashboard"})
        await gateway.post(QUERY, token=with_claim)
        await gateway.post(QUERY, token=token_for("marketer", sub="ben"))
        await gateway.post(QUERY, token=token_for("marketer", sub="auth0|5f7c8ec7c33c6c004bbafe82"))
        await gateway.post(QUERY, token=token_for("marketer", sub="svc-" + "x" * 80))  # too long: a digest
        # Not a name: control characters, a tab (our separator), too long. Counted, but as "(invalid)".
        for bad in (b"a\tb", b"x" * 65, "\u202eevil".encode()):
            await gateway.client.post("/graphql", json={"query": QUERY}, headers=[
                (b"authorization", f"Bearer {token_for('marketer', sub='ben')}".encode()),
                (b"graphql-client-name", bad)])

        digest = "sha256:" + hashlib.sha256(("svc-" + "x" * 80).encode()).hexdigest()[:16]
        assert _clients(await gateway.query(REPORT)) == {"web-dashboard": 1, "bi-tool": 1, "ben": 1, "(invalid)": 3,
                                                         "auth0|5f7c8ec7c33c6c004bbafe82": 1, digest: 1}
    finally:
        await close()


async def test_invented_client_names_fold_into_other_past_the_cap_and_listed_ones_never_do(
        fast_sim_state: SimulatorState) -> None:
    gateway, close = await open_gateway(fast_sim_state, observability={
        "usage_max_clients": 20, "usage_clients": ["crm-app"]})
    try:
        for i in range(300):
            await gateway.post(QUERY, token=token_for("marketer"), headers={"graphql-client-name": f"bot-{i}"})
        await gateway.post(QUERY, token=token_for("marketer"), headers={"graphql-client-name": "crm-app"})

        clients = _clients(await gateway.query(REPORT))
        assert len([c for c in clients if c.startswith("bot-")]) == 20
        assert clients["(other)"] == 280 and clients["crm-app"] == 1
    finally:
        await close()


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"test-cap-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_each_hourly_hash_in_redis_is_capped_and_no_count_is_lost(redis_url: str, prefix: str) -> None:
    usage = FieldUsage(redis_url, prefix=prefix, max_fields_per_hour=50)
    now = 1_900_000_000.0
    try:
        for i in range(500):  # 500 clients x (2 fields + the operation itself): 1,500 would-be fields
            usage.record(f"client-{i}", frozenset({"User.name", "User.id"}), now=now, operation="Q")
        await usage.flush()
        client = redis.Redis.from_url(redis_url)
        [key] = [k async for k in client.scan_iter(match=f"{prefix}*")]
        assert await client.hlen(key) <= 50 + 3  # the cap, plus one "(other)" field per coordinate
        await client.aclose()

        entries = await usage.entries(1, now=now)
        assert sum(e.count for e in entries if e.coordinate == OPERATIONS) == 500
        assert sum(e.count for e in entries if e.coordinate == "User.name") == 500
        assert sum(e.count for e in entries if e.client == "(other)" and e.coordinate == "User.id") > 400
    finally:
        await usage.aclose()
