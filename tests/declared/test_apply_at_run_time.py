"""Declared sources change at run time: dry run, apply on every instance, and a broken set refused while
the schema in force keeps serving."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from harmonia.http.declared_sources import SET_KEY
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from tests.conftest import SHIPPED_DIR, Gateway, declared_settings, gateway_over, token_for

KLAVIYO = (Path(SHIPPED_DIR) / "klaviyo.yaml").read_text(encoding="utf-8")
META = (Path(SHIPPED_DIR) / "meta_ads.yaml").read_text(encoding="utf-8")
PROFILES = "{ customers(first: 3) { edges { node { email klaviyoProfile { id } } } } }"


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the suite through `bash scripts/with-redis.sh`")
    client = redis.Redis.from_url(url)
    await client.delete(SET_KEY)
    yield url
    await client.delete(SET_KEY)
    await client.aclose()


async def put(gw: Gateway, files: dict[str, str], role: str = "admin", path: str = "") -> Any:
    return await gw.client.request("PUT" if not path else "POST", f"/admin/sources/declared{path}",
                                   json={"files": files}, headers={"Authorization": f"Bearer {token_for(role)}"})


def settings(redis_url: str | None = None) -> dict[str, Any]:
    values = declared_settings()
    if redis_url:
        values["redis_url"] = redis_url
    return values


async def test_a_broken_declaration_is_refused_and_the_schema_in_force_keeps_serving(world: World) -> None:
    sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
    async with gateway_over(sim, **settings()) as gw:
        before = await gw.query(PROFILES)
        typo = KLAVIYO.replace("      items: data\n", "      itmes: data\n")
        answer = await put(gw, {"klaviyo.yaml": typo, "meta_ads.yaml": META})
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] == "BAD_USER_INPUT" and error["file"] == "klaviyo.yaml"
        assert error["key"] == "types.KlaviyoProfile.batch.itmes"
        assert error["line"] == next(i for i, line in enumerate(typo.splitlines(), 1) if "itmes:" in line)
        assert error["message"].startswith(f"klaviyo.yaml:{error['line']}: ")
        after = await gw.query(PROFILES)
        assert "errors" not in after and after["data"] == before["data"]


async def test_only_admins_manage_declared_sources(world: World) -> None:
    sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
    async with gateway_over(sim, **settings()) as gw:
        assert (await put(gw, {"meta_ads.yaml": META}, role="marketer")).status_code == 403
        nobody = await gw.client.get("/admin/sources/declared")
        assert nobody.status_code == 401 and nobody.headers["WWW-Authenticate"].startswith("Bearer")
        listing = await gw.client.get("/admin/sources/declared",
                                      headers={"Authorization": f"Bearer {token_for('admin')}"})
        assert [s["name"] for s in listing.json()["sources"]] == ["klaviyo", "meta_ads"]
        assert listing.json()["sources"][0]["customerFields"] == ["klaviyoProfile"]


async def test_readyz_probes_the_declared_sources_in_force(world: World) -> None:
    sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
    async with gateway_over(sim, **settings(), http={"readiness_probe_seconds": 0}) as gw:
        before = (await gw.client.get("/readyz")).json()["checks"]
        assert before["klaviyo"] == "ok" and before["meta_ads"] == "ok" and before["hubspot"] == "ok"
        assert (await put(gw, {"meta_ads.yaml": META})).status_code == 200
        after = (await gw.client.get("/readyz")).json()["checks"]
        assert "klaviyo" not in after and after["meta_ads"] == "ok" and after["hubspot"] == "ok"


async def test_a_dry_run_shows_the_schema_diff_and_the_recent_operations_it_would_break(world: World) -> None:
    sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
    async with gateway_over(sim, **settings()) as gw:
        await gw.query("query Profiles " + PROFILES, role="marketer")
        await gw.query("query Names { customers(first: 2) { edges { node { email } } } }", role="marketer")
        answer = await put(gw, {"meta_ads.yaml": META}, path="/dry-run")
        assert answer.status_code == 200
        report = answer.json()
        assert not report["applied"]
        assert any("Customer.klaviyoProfile was removed" in c["description"] for c in report["breaking"])
        assert report["operationsChecked"] == 2
        assert [(o["operationName"], o["client"]) for o in report["brokenOperations"]] == [("Profiles", "tester")]
        assert "errors" not in await gw.query(PROFILES)   # a dry run changes nothing


async def test_a_dry_run_names_the_clients_the_change_would_hurt_from_recorded_usage(world: World,
                                                                                    redis_url: str) -> None:
    """The same report as `harmonia schema check FOLDER`: the change joined with the usage every instance
    recorded in Redis over schema_checks.window, naming the client and its operation."""
    sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
    prefix = f"test-declared-usage-{uuid.uuid4().hex[:8]}:"
    async with gateway_over(sim, **settings(redis_url), observability={"field_usage_key_prefix": prefix}) as gw:
        for _ in range(2):
            response = await gw.post("query Profiles " + PROFILES, role="marketer",
                                     headers={"graphql-client-name": "crm-app"})
            assert "errors" not in response.json()
        answer = await put(gw, {"meta_ads.yaml": META}, path="/dry-run")
        assert answer.status_code == 200
        check = answer.json()["check"]
    assert check["report"]["verdict"] == "BREAKING" and check["report"]["usageKnown"]
    [removed] = [c for c in check["report"]["changes"] if "Customer.klaviyoProfile was removed" in c["description"]]
    assert removed["blocking"] and [(c["client"], c["operations"]) for c in removed["clients"]] == [("crm-app", 2)]
    assert "crm-app" in check["text"] and "Profiles x2" in check["text"]
    client = redis.Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_applying_on_one_instance_changes_the_schema_of_every_instance(world: World, redis_url: str) -> None:
    sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
    async with gateway_over(sim, **settings(redis_url)) as a, gateway_over(sim, **settings(redis_url)) as b:
        assert "errors" not in await b.query(PROFILES)
        answer = await put(a, {"meta_ads.yaml": META})
        assert answer.status_code == 200 and answer.json()["applied"]
        assert (await a.query(PROFILES))["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        for _ in range(100):  # b hears it on the pub/sub channel
            body = await b.query(PROFILES)
            if "errors" in body:
                break
            await asyncio.sleep(0.05)
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        campaigns = await b.query("{ campaigns(first: 100) { edges { node { channel } } } }")
        assert "SOCIAL" in {e["node"]["channel"] for e in campaigns["data"]["campaigns"]["edges"]}
        # And back: a third instance starting now builds the set in force from Redis.
        assert (await put(b, {"meta_ads.yaml": META, "klaviyo.yaml": KLAVIYO})).status_code == 200
        async with gateway_over(sim, **{**settings(redis_url), "sources_dir": None}) as c:
            assert "errors" not in await c.query(PROFILES)
        for _ in range(100):
            if "errors" not in await a.query(PROFILES):
                break
            await asyncio.sleep(0.05)
        assert "errors" not in await a.query(PROFILES)
        assert uuid  # (unique names are not needed: the set key is cleared around each test)
