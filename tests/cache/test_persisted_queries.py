"""Apollo's automatic persisted queries, shared through Redis, and the safelist lock-down."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.cache.conftest import CachedGateway, MakeGateway
from tests.conftest import gateway_settings, token_for

QUERY = "{ customers(first: 2) { edges { node { email } } } }"
SHA = hashlib.sha256(QUERY.encode()).hexdigest()


async def post(gw: CachedGateway, payload: dict[str, Any], role: str = "marketer") -> httpx.Response:
    return await gw.client.post("/graphql", json=payload, headers={"Authorization": f"Bearer {token_for(role)}"})


def apq(sha: str = SHA) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


async def test_an_unknown_hash_answers_persisted_query_not_found_as_apollo_clients_expect(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway()

    response = await post(gw, {"extensions": apq()})

    body = response.json()
    assert response.status_code == 200
    [error] = body["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "persistedQuery": "PersistedQueryNotFound"}
    assert "cost" in body["extensions"]
    assert gw.calls() == {}


@pytest.mark.parametrize("cache", [True, False])
async def test_a_registered_hash_runs_alone_on_every_instance(make_gateway: MakeGateway, cache: bool) -> None:
    # Registrations live in Redis whether or not the entity cache is on.
    first, second = await make_gateway(cache={"enabled": cache}), await make_gateway(cache={"enabled": cache})

    registered = await post(first, {"query": QUERY, "extensions": apq()})
    by_hash_here = await post(first, {"extensions": apq()})
    by_hash_there = await post(second, {"extensions": apq()})
    over_get = await second.client.get("/graphql", params={"extensions": json.dumps(apq())},
                                       headers={"Authorization": f"Bearer {token_for('marketer')}"})

    data = registered.json()["data"]
    assert data["customers"]["edges"]
    for response in (by_hash_here, by_hash_there, over_get):
        assert response.status_code == 200
        assert response.json()["data"] == data


async def test_a_hash_that_does_not_match_the_text_is_refused(make_gateway: MakeGateway) -> None:
    gw = await make_gateway()

    response = await post(gw, {"query": QUERY, "extensions": apq("0" * 64)})
    bad_version = await post(gw, {"query": QUERY, "extensions": {"persistedQuery": {"version": 2, "sha256Hash": SHA}}})

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad_version.status_code == 400
    assert (await post(gw, {"extensions": apq("0" * 64)})).json()["errors"][0]["message"] == "PersistedQueryNotFound"


async def test_safelist_mode_runs_only_registered_operations(make_gateway: MakeGateway, tmp_path: Path) -> None:
    listed = "{ customers(first: 1) { edges { node { id } } } }"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": hashlib.sha256(listed.encode()).hexdigest(), "name": "One", "type": "query", "body": listed}]}))
    gw = await make_gateway(persisted_queries={"safelist": True, "manifest": str(manifest)})

    free_text = await post(gw, {"query": QUERY})
    apq_registration = await post(gw, {"query": QUERY, "extensions": apq()})
    from_manifest = await post(gw, {"query": listed})
    by_its_hash = await post(gw, {"extensions": apq(hashlib.sha256(listed.encode()).hexdigest())})
    calls_before_admin = gw.calls()
    admin_registers = await post(gw, {"query": QUERY, "extensions": apq()}, role="admin")
    now_listed = await post(gw, {"extensions": apq()})

    for refused in (free_text, apq_registration):
        assert refused.status_code == 403
        [error] = refused.json()["errors"]
        assert error["extensions"] == {"code": "FORBIDDEN", "persistedQuery": "PersistedQueryNotInList"}
    assert calls_before_admin == {"hubspot": 1}  # the refused operations never reached a source
    assert from_manifest.json()["data"] == by_its_hash.json()["data"]
    assert admin_registers.status_code == now_listed.status_code == 200
    assert now_listed.json()["data"] == admin_registers.json()["data"]


async def test_a_registration_that_is_not_kept_says_why_and_the_operation_still_runs(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(persisted_queries={"max_bytes": 40})
    long_text = "{ customers(first: 2) { edges { node { email firstName } } } }"

    response = await post(gw, {"query": long_text, "extensions": apq(hashlib.sha256(long_text.encode()).hexdigest())})
    again = await post(gw, {"extensions": apq(hashlib.sha256(long_text.encode()).hexdigest())})

    body = response.json()
    assert body["data"]["customers"]["edges"]
    assert body["extensions"]["persistedQuery"]["stored"] is False
    assert "more than the 40" in body["extensions"]["persistedQuery"]["reason"]
    assert again.json()["errors"][0]["message"] == "PersistedQueryNotFound"


async def test_a_client_over_its_registration_budget_runs_its_operations_unstored(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(persisted_queries={"registrations_per_hour": 2})
    texts = [f"{{ campaigns(first: {n}) {{ edges {{ node {{ name }} }} }} }}" for n in (1, 2, 3)]

    answers = [await post(gw, {"query": t, "extensions": apq(hashlib.sha256(t.encode()).hexdigest())}) for t in texts]
    by_hash = [await post(gw, {"extensions": apq(hashlib.sha256(t.encode()).hexdigest())}) for t in texts]

    assert all(len(a.json()["data"]["campaigns"]["edges"]) == n for a, n in zip(answers, (1, 2, 3), strict=True))
    assert [("persistedQuery" in a.json()["extensions"]) for a in answers] == [False, False, True]
    assert [("errors" in b.json()) for b in by_hash] == [False, False, True]


async def test_an_in_process_registration_expires_with_its_ttl(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(redis=False, persisted_queries={"ttl": 0.5})
    assert "errors" not in (await post(gw, {"query": QUERY, "extensions": apq()})).json()
    assert "errors" not in (await post(gw, {"extensions": apq()})).json()

    await asyncio.sleep(0.6)

    assert (await post(gw, {"extensions": apq()})).json()["errors"][0]["message"] == "PersistedQueryNotFound"


def test_a_registration_may_not_be_kept_longer_than_a_week() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 604800"):
        gateway_settings(persisted_queries={"ttl": 8 * 24 * 3600})
