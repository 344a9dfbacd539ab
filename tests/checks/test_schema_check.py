"""`harmonia schema check PROPOSED`: proposals against the running schema/policy and the usage a gateway recorded.

Usage is recorded the real way: operations through a gateway (simulators behind it) with the
``graphql-client-name`` header, counted into a real Redis; the CLI then runs as a subprocess, as CI would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from graphql import build_schema, print_schema

from harmonia.auth.policy_file import demo_policy_text
from harmonia.schema import build_schema as build_harmonia_schema
from harmonia.simulators.core import SimulatorState
from tests.conftest import open_gateway, token_for

ROOT = Path(__file__).resolve().parent.parent.parent
CUSTOMERS = "query CustomerList { customers(first: 5) { edges { node { email phone } } } }"
ORDERS = "query Orders { orders(first: 3) { edges { node { name } } } }"


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"test-check-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def record_usage(sim: SimulatorState, redis_url: str, prefix: str) -> None:
    """crm-app (a marketer) reads customers' email and phone 3 times; bi-tool (an analyst) reads orders twice."""
    gateway, close = await open_gateway(sim, redis_url=redis_url, observability={
        "field_usage_key_prefix": prefix, "field_usage_flush_seconds": 3600})
    try:
        for _ in range(3):
            response = await gateway.post(CUSTOMERS, token=token_for("marketer", sub="u1"),
                                          headers={"graphql-client-name": "crm-app", "graphql-client-version": "2.3"})
            assert "errors" not in response.json()
        for _ in range(2):
            response = await gateway.post(ORDERS, token=token_for("analyst", sub="u2"),
                                          headers={"graphql-client-name": "bi-tool"})
            assert "errors" not in response.json()
    finally:
        await close()  # flushes the counts to Redis


def without_field(type_name: str, field_name: str) -> str:
    schema = build_schema(str(build_harmonia_schema()))
    del schema.type_map[type_name].fields[field_name]  # type: ignore[union-attr]
    return print_schema(schema)


def run_check(tmp_path: Path, name: str, text: str, redis_url: str | None, prefix: str,
              *args: str) -> subprocess.CompletedProcess[str]:
    proposal = tmp_path / name
    proposal.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
    env["HARMONIA_OBSERVABILITY__FIELD_USAGE_KEY_PREFIX"] = prefix
    if redis_url:
        env["HARMONIA_REDIS_URL"] = redis_url
    return subprocess.run([sys.executable, "-m", "harmonia.cli", "schema", "check", str(proposal), *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)


async def test_removing_a_field_one_client_used_this_hour_is_breaking_and_names_it(
        fast_sim_state: SimulatorState, redis_url: str, prefix: str, tmp_path: Path) -> None:
    await record_usage(fast_sim_state, redis_url, prefix)

    done = run_check(tmp_path, "next.graphql", without_field("Customer", "phone"), redis_url, prefix)

    assert done.returncode == 1, done.stderr
    report = done.stdout
    assert "BREAKING  FIELD_REMOVED: Field Customer.phone was removed." in report
    assert "used by 1 client in 3 operations" in report
    assert "crm-app (2.3): 3 operations (CustomerList x3)" in report
    assert "bi-tool" not in report.split("Verdict")[0].split("Customer.phone")[1]
    assert "Verdict: BREAKING" in report

    as_json = json.loads(run_check(tmp_path, "next.graphql", without_field("Customer", "phone"), redis_url, prefix,
                                   "--json", "--window", "1h").stdout)
    [change] = [c for c in as_json["changes"] if c["kind"] == "FIELD_REMOVED"]
    assert change["blocking"] and change["operations"] == 3 and as_json["verdict"] == "BREAKING"
    [client] = change["clients"]
    assert client["client"] == "crm-app" and client["byOperation"] == [{"operation": "CustomerList", "count": 3}]


async def test_removing_a_field_nobody_used_is_safe_and_says_unused(
        fast_sim_state: SimulatorState, redis_url: str, prefix: str, tmp_path: Path) -> None:
    await record_usage(fast_sim_state, redis_url, prefix)

    done = run_check(tmp_path, "next.graphql", without_field("Customer", "lifecycleStage"), redis_url, prefix)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "ACCEPTED  FIELD_REMOVED: Field Customer.lifecycleStage was removed." in done.stdout
    assert "unused: no operation selected it in the last 7 days" in done.stdout
    assert "Verdict: SAFE (exit 0)" in done.stdout


async def test_a_policy_that_newly_denies_a_used_field_is_breaking_for_the_clients_of_that_role(
        fast_sim_state: SimulatorState, redis_url: str, prefix: str, tmp_path: Path) -> None:
    await record_usage(fast_sim_state, redis_url, prefix)
    # Marketers lose customers' phone numbers (only support keeps them).
    policy = demo_policy_text().replace(
        "phone: {mask: phone, clear: [marketer, support]}",
        "phone: {read: [analyst, support], mask: phone, clear: [support]}")
    assert policy != demo_policy_text()

    done = run_check(tmp_path, "policy.yaml", policy, redis_url, prefix)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "BREAKING  POLICY_DENIED: Customer.phone: denied (was read in clear) for marketer." in done.stdout
    assert "crm-app (2.3): 3 operations (CustomerList x3)" in done.stdout
    # Analysts still read it masked, as before: no change reported for them.
    assert "for analyst" not in done.stdout


async def test_a_breaking_change_under_the_threshold_is_accepted_with_its_users_named(
        fast_sim_state: SimulatorState, redis_url: str, prefix: str, tmp_path: Path) -> None:
    await record_usage(fast_sim_state, redis_url, prefix)
    proposal = without_field("Customer", "phone")

    by_count = run_check(tmp_path, "next.graphql", proposal, redis_url, prefix, "--threshold", "3")
    assert by_count.returncode == 0, by_count.stdout
    assert "ACCEPTED  FIELD_REMOVED: Field Customer.phone" in by_count.stdout and "crm-app" in by_count.stdout
    # 3 of 5 operations is 60%: over 50%, under 60%.
    assert run_check(tmp_path, "next.graphql", proposal, redis_url, prefix, "--threshold", "50%").returncode == 1
    assert run_check(tmp_path, "next.graphql", proposal, redis_url, prefix, "--threshold", "60%").returncode == 0
    ignoring = run_check(tmp_path, "next.graphql", proposal, redis_url, prefix, "--ignore-client", "crm-app")
    assert ignoring.returncode == 0 and "Ignored clients: crm-app" in ignoring.stdout


def test_without_redis_every_breaking_change_counts_as_used(tmp_path: Path) -> None:
    done = run_check(tmp_path, "next.graphql", without_field("Customer", "lifecycleStage"), None, "unused:")
    assert done.returncode == 1
    assert "Usage: none recorded here" in done.stdout and "usage unknown" in done.stdout


@pytest.mark.parametrize(("name", "text", "args", "says"), [
    ("next.graphql", "type Query { a: }", (), "not a valid schema"),
    ("policy.yaml", "version: 1\ntypes:\n  Nope: {read: '*'}\n", (), "Nope"),
    ("next.graphql", "type Query { a: String }", ("--window", "7x"), "window '7x'"),
    ("next.graphql", "type Query { a: String }", ("--threshold", "lots"), "threshold 'lots'"),
    ("next.txt", "hello", (), "expected a schema"),
])
def test_a_proposal_that_cannot_be_checked_exits_2_with_the_reason(
        tmp_path: Path, name: str, text: str, args: tuple[str, ...], says: str) -> None:
    done = run_check(tmp_path, name, text, None, "unused:", *args)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr


SHIPPED = ROOT / "harmonia" / "sources" / "declared" / "shipped"


def check_folder(tmp_path: Path, proposed: Path, sources_dir: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
    if sources_dir is not None:
        env["HARMONIA_SOURCES_DIR"] = str(sources_dir)
    return subprocess.run([sys.executable, "-m", "harmonia.cli", "schema", "check", str(proposed)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False, env=env)


def test_a_sources_folder_adding_declared_apis_is_safe(tmp_path: Path) -> None:
    done = check_folder(tmp_path, SHIPPED, None)
    assert done.returncode == 0, done.stderr
    assert "proposed sources folder shipped" in done.stdout and "BREAKING" not in done.stdout


def test_a_sources_folder_dropping_a_declared_api_breaks_its_fields(tmp_path: Path) -> None:
    """Running with Meta Ads and Klaviyo, a folder with Meta Ads only removes Customer.klaviyoProfile;
    without recorded usage (no Redis) every breaking change counts as used: exit 1."""
    proposed = tmp_path / "next"
    proposed.mkdir()
    (proposed / "meta_ads.yaml").write_text((SHIPPED / "meta_ads.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    done = check_folder(tmp_path, proposed, SHIPPED)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BREAKING" in done.stdout and "klaviyoProfile" in done.stdout


def test_a_broken_sources_folder_exits_2_naming_the_file(tmp_path: Path) -> None:
    proposed = tmp_path / "next"
    proposed.mkdir()
    (proposed / "broken.yaml").write_text("name: broken\nbase_url: 12\n", encoding="utf-8")
    done = check_folder(tmp_path, proposed, None)
    assert done.returncode == 2 and "broken.yaml" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_redis_is_an_error_not_a_pass(tmp_path: Path) -> None:
    done = run_check(tmp_path, "next.graphql", without_field("Customer", "phone"), "redis://127.0.0.1:1/0", "x:")
    assert done.returncode == 2 and "could not read the recorded usage" in done.stderr


async def test_the_admins_policy_dry_run_shows_the_same_report(
        fast_sim_state: SimulatorState, redis_url: str, prefix: str) -> None:
    gateway, close = await open_gateway(fast_sim_state, redis_url=redis_url, observability={
        "field_usage_key_prefix": prefix})
    try:
        for _ in range(3):
            await gateway.post(CUSTOMERS, token=token_for("marketer", sub="u1"),
                               headers={"graphql-client-name": "crm-app", "graphql-client-version": "2.3"})
        body: dict[str, Any] = await gateway.query("""
            query($c: [FieldPolicyInput!]!) { dryRunPolicy(changes: $c) { operationsReplayed
              check { verdict text changes { kind blocking operations clients { client operations
                byOperation { name count } } } } } }""", {"c": [{
            "typeName": "Customer", "fieldName": "phone", "read": [{"roles": ["analyst"]}, {"roles": ["support"]}],
            "mask": "phone", "clear": [{"roles": ["support"]}]}]})
        check = body["data"]["dryRunPolicy"]["check"]
        assert check["verdict"] == "BREAKING"
        [denied] = [c for c in check["changes"] if c["kind"] == "POLICY_DENIED"]
        assert denied["blocking"] and denied["operations"] == 3
        assert denied["clients"] == [{"client": "crm-app", "operations": 3,
                                      "byOperation": [{"name": "CustomerList", "count": 3}]}]
        assert "BREAKING  POLICY_DENIED: Customer.phone: denied (was read in clear) for marketer." in check["text"]

        refused = await gateway.query('{ schemaCheck(proposedSchema: "type Query { a: String }") { verdict } }',
                                      role="marketer")
        assert refused["errors"][0]["extensions"]["code"] in {"FORBIDDEN", "GRAPHQL_VALIDATION_FAILED"}
        assert (refused.get("data") or {}).get("schemaCheck") is None
        sdl = without_field("Customer", "phone")
        mine = await gateway.query("query($s: String!) { schemaCheck(proposedSchema: $s) { verdict text } }",
                                   {"s": sdl})
        assert mine["data"]["schemaCheck"]["verdict"] == "BREAKING"
        assert "crm-app (2.3): 3 operations (CustomerList x3)" in mine["data"]["schemaCheck"]["text"]
    finally:
        await close()


def test_harmonia_schema_prints_the_declared_types_when_a_sources_folder_is_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
    plain = subprocess.run([sys.executable, "-m", "harmonia.cli", "schema"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120, check=False, env=env)
    declared = subprocess.run([sys.executable, "-m", "harmonia.cli", "schema"], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120, check=False, env={**env, "HARMONIA_SOURCES_DIR": str(SHIPPED)})
    assert plain.returncode == 0 and declared.returncode == 0
    assert "klaviyoProfile" not in plain.stdout and "type Customer" in plain.stdout
    assert "klaviyoProfile: KlaviyoProfile" in declared.stdout and "SOCIAL" in declared.stdout
