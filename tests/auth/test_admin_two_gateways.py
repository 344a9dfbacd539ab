"""Two gateway processes on one real Redis: an admin's change on one is enforced by the other within a second."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import token_for
from tests.servers import Servers

STATS = {"query": "{ campaigns(first: 3) { edges { node { name stats { clicks } } } } }"}
OPEN_STATS = {"query": """mutation { setFieldPolicy(input: {typeName: "Campaign", fieldName: "stats",
    read: [{roles: ["marketer"]}, {roles: ["analyst"]}, {roles: ["support"]}]}) { source } }"""}
AUDIT = {"query": "{ policyAudit(last: 5) { version actor action typeName fieldName after { summary } } }"}


def post(url: str, payload: dict[str, Any], token: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors", ())}


def test_a_change_on_one_gateway_is_enforced_by_the_other_within_a_second(tmp_path: Path, redis_url: str) -> None:
    admin, support = token_for("admin", sub="ada"), token_for("support", sub="sam")
    with Servers(tmp_path) as servers:
        simulators = servers.simulators()
        env = {"HARMONIA_REDIS_URL": redis_url}
        a = servers.gateway(simulators, env, name="gateway-a")
        b = servers.gateway(simulators, env, name="gateway-b")

        assert codes(post(b, STATS, support)) == {"FORBIDDEN"}
        # For a non-admin the admin API does not exist, on either gateway, and nothing changes.
        denied = post(b, OPEN_STATS, support)
        assert codes(denied) == {"GRAPHQL_VALIDATION_FAILED"} and denied.get("data") is None

        changed = post(a, OPEN_STATS, admin)
        applied_at = time.monotonic()
        assert changed["data"] == {"setFieldPolicy": {"source": "OVERLAY"}}, changed
        # Poll B for what support now gets; the requirement is that it flips within one second.
        while True:
            seen = post(b, STATS, support)
            if "errors" not in seen:
                break
            assert time.monotonic() - applied_at < 1.0, f"gateway B still enforces the old policy: {seen}"
            time.sleep(0.02)
        assert all(edge["node"]["stats"] is not None for edge in seen["data"]["campaigns"]["edges"])

        # Both read the same append-only audit log from Redis.
        for gateway in (a, b):
            [entry] = post(gateway, AUDIT, admin)["data"]["policyAudit"]
            assert entry == {"version": 1, "actor": "ada", "action": "set", "typeName": "Campaign",
                             "fieldName": "stats", "after": {"summary": "read: analyst | marketer | support"}}

        # A gateway started later picks the overlay up from Redis at once.
        c = servers.gateway(simulators, env, name="gateway-c")
        assert "errors" not in post(c, STATS, support)
