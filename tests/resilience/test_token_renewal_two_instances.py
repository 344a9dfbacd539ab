"""Two real gateway processes on one Redis, access tokens living 3 seconds, a minute of mixed queries:
no call ever fails for want of a token, and each credential is renewed about once per token lifetime,
not once per instance or per request, Shopify's single-use refresh tokens included."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from harmonia.simulators.oauth import DEMO_OAUTH
from tests.conftest import token_for
from tests.servers import Servers, free_port

LIFETIME = 3.0
RUN_SECONDS = 60.0
QUERIES = [
    "{ customers(first: 10) { edges { node { email orders(first: 3) { edges { node { name } } } } } } }",
    "{ orders(first: 10) { edges { node { name totalPrice { amount } customer { email } } } } }",
    "{ campaigns(first: 30) { edges { node { name channel stats { __typename } } } } }",
    '{ analytics(dateRange: {startDate: "2024-05-01", endDate: "2024-05-31"}, dimensions: ["date"], '
    'metrics: ["sessions"]) { rowCount } }',
]


def oauth_env(sim: str, key_file: Path) -> dict[str, str]:
    env = {"HARMONIA_SOURCES__GA4__SERVICE_ACCOUNT_FILE": str(key_file),
           "HARMONIA_SOURCES__GOOGLEADS__OAUTH__TOKEN_URL": f"{sim}/google/token"}
    for source, issuer in (("HUBSPOT", "hubspot"), ("SHOPIFY", "shopify"), ("GOOGLEADS", "google")):
        demo = DEMO_OAUTH[issuer]
        env |= {f"HARMONIA_SOURCES__{source}__OAUTH__CLIENT_ID": demo["client_id"],
                f"HARMONIA_SOURCES__{source}__OAUTH__CLIENT_SECRET": demo["client_secret"],
                f"HARMONIA_SOURCES__{source}__OAUTH__REFRESH_TOKEN": demo["refresh_token"]}
    return env


async def drive(gateways: list[str], seconds: float) -> tuple[int, list[Any]]:
    """Two callers per gateway, each cycling through the queries until the time is up."""
    ends = time.monotonic() + seconds
    sent = 0
    failures: list[Any] = []
    headers = {"Authorization": f"Bearer {token_for('admin')}"}

    async def caller(client: httpx.AsyncClient, gateway: str, offset: int) -> None:
        nonlocal sent
        turn = offset
        while time.monotonic() < ends:
            response = await client.post(f"{gateway}/graphql", json={"query": QUERIES[turn % len(QUERIES)]},
                                         headers=headers)
            sent += 1
            turn += 1
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                failures.append((response.status_code, body.get("errors")))
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(caller(client, g, i) for g in gateways for i in range(2)))
    return sent, failures


def test_a_minute_on_3_second_tokens_through_two_instances(tmp_path: Path) -> None:
    url = os.environ["HARMONIA_TEST_REDIS_URL"].rsplit("/", 1)[0] + "/4"  # the in-process tests flush db 0
    redis.Redis.from_url(url).flushdb()
    with Servers(tmp_path) as servers:
        sim = servers.start("simulators", ["simulate", "--no-rate-limits", "--token-lifetime", str(LIFETIME)], {},
                            free_port())
        key_file = tmp_path / "service-account.json"
        key_file.write_text(json.dumps(httpx.get(f"{sim}/__oauth/service-account.json").json()))
        env = oauth_env(sim, key_file) | {"HARMONIA_REDIS_URL": url, "HARMONIA_CACHE__ENABLED": "false",
                                          "HARMONIA_CACHE__RESPONSES": "false",
                                          "HARMONIA_SOURCES__SHOPIFY__BUCKET_SIZE": "1000",
                                          "HARMONIA_SOURCES__SHOPIFY__LEAK_PER_SECOND": "1000"}
        gateways = [servers.gateway(sim, env, name=f"gateway-{i}") for i in range(2)]
        sent, failures = asyncio.run(drive(gateways, RUN_SECONDS))
        stats = httpx.get(f"{sim}/__oauth").json()
        logs = [line for i in range(2) for line in (tmp_path / f"gateway-{i}.log").read_text().splitlines()
                if "credential" in line or "renewal" in line]  # what the credentials logged, no query lines
    assert sent > 200 and failures == [], (failures[:2], stats["refused"], stats["api_refusals"], logs[:10])
    assert stats["refused"] == {} and stats["api_refusals"] == {}  # no spent refresh token, no expired access token
    renewals = {"hubspot": stats["token_requests"]["hubspot"]["refresh_token"],
                "shopify": stats["token_requests"]["shopify"]["refresh_token"],
                "googleads": stats["token_requests"]["google"]["refresh_token"],
                "ga4": stats["token_requests"]["google"]["jwt_bearer"]}
    print(f"\n{sent} queries, renewals per credential: {renewals}, token requests: {stats['token_requests']}")
    lifetimes = RUN_SECONDS / LIFETIME  # 20
    # About once per lifetime (renewal starts with a fifth of the life left): per instance would be twice this.
    assert all(0.6 * lifetimes <= n <= 1.5 * lifetimes for n in renewals.values()), renewals
