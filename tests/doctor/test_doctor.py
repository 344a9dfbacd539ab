"""``harmonia doctor`` against the simulators: all green, then each kind of problem with its fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis

from harmonia.doctor import examine, exit_code, render
from harmonia.doctor.report import FAIL, OK, WARN, SourceRow
from harmonia.schema import built_in_type_names
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.oauth import DEMO_OAUTH, oauth_state
from harmonia.sources.declared.loader import load_folder
from tests.conftest import SHIPPED_DIR, SOURCES, declared_settings, gateway_settings
from tests.credentials.conftest import oauth_settings, token_requests
from tests.servers import ROOT, Servers

TODAY = date(2026, 12, 6)


def renewing(key_file: Path, **shopify: Any) -> dict[str, Any]:
    return {"hubspot": {"oauth": oauth_settings("hubspot")},
            "shopify": {"api_version": "2026-10", "oauth": oauth_settings("shopify", refresh_token=None, **shopify)},
            "ga4": {"service_account_file": str(key_file)},
            "googleads": {"oauth": oauth_settings("google")}}


async def doctor(transport: httpx.ASGITransport, sources: dict[str, Any], **settings: Any) -> list[SourceRow]:
    return await examine(gateway_settings(sources=sources, **settings), today=TODAY,
                         transports=dict.fromkeys(SOURCES, transport))


def by_source(rows: list[SourceRow]) -> dict[str, SourceRow]:
    return {r.source: r for r in rows}


async def test_all_green_with_every_kind_of_renewing_credential(
        sim_transport: httpx.ASGITransport, key_file: Path) -> None:
    rows = await doctor(sim_transport, renewing(key_file))
    text = render(rows, TODAY)
    assert exit_code(rows) == 0, text
    assert [r.source for r in rows] == ["hubspot", "shopify", "mailchimp", "ga4", "googleads"]
    assert all(r.verdict in (OK, "-") and not r.problems for r in rows), text
    found = by_source(rows)
    assert found["ga4"].cells["credentials"] == (OK, "service account, 3 s left")
    assert found["ga4"].cells["scopes"] == (OK, "analytics.readonly")
    assert found["googleads"].cells["scopes"] == (OK, "adwords")
    assert "read_all_orders" in found["shopify"].cells["scopes"][1]
    assert found["hubspot"].cells["quota"][1].startswith("99/100 per 10 s")
    assert found["shopify"].cells["quota"][0] == OK
    assert re.fullmatch(r"199\d/2000 points, \+100/s", found["shopify"].cells["quota"][1])  # the shop query's cost
    assert "All well" in text


async def test_the_report_never_shows_a_secret_or_a_token(
        sim_transport: httpx.ASGITransport, token_sim: SimulatorState, key_file: Path) -> None:
    rows = await doctor(sim_transport, renewing(key_file))
    shown = render(rows, TODAY) + json.dumps([r.as_json() for r in rows])
    oauth = oauth_state(token_sim)
    secrets = [*oauth.access, *oauth.refresh_tokens, *(d["client_secret"] for d in DEMO_OAUTH.values())]
    assert len(oauth.access) >= 4 and not [s for s in secrets if s in shown]


async def test_a_refused_refresh_token_and_a_shop_token_without_read_all_orders_fail_with_their_fixes(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient, token_sim: SimulatorState,
        key_file: Path) -> None:
    await control.post("/__oauth/revoke", json={"issuer": "hubspot", "refresh": True})
    token_sim.config.shopify_read_all_orders = False  # the shop's app was approved without it
    rows = await doctor(sim_transport, renewing(key_file))
    found = by_source(rows)
    assert exit_code(rows) == 1
    assert found["hubspot"].cells["credentials"] == (FAIL, "refresh token: refused (BAD_REFRESH_TOKEN)")
    [hubspot] = found["hubspot"].problems
    assert "HARMONIA_SOURCES__HUBSPOT__OAUTH__REFRESH_TOKEN" in hubspot.fix
    [shopify] = found["shopify"].problems
    assert shopify.severity == FAIL and "read_all_orders" in shopify.what and "60 days" in shopify.what
    assert "access scopes" in shopify.fix
    assert {r.source for r in rows if r.verdict == FAIL} == {"hubspot", "shopify"}
    text = render(rows, TODAY)
    assert "2 problem(s)" in text and text.count("fix:") == 2


async def test_a_sunset_or_unknown_version_is_a_failure_naming_the_current_one(
        sim_transport: httpx.ASGITransport) -> None:
    rows = await doctor(sim_transport, {"googleads": {"api_version": "v20"}, "hubspot": {"api_version": "2019-01"},
                                        "shopify": {"api_version": "2026-10"}})
    found = by_source(rows)
    assert found["googleads"].cells["version"] == (FAIL, "v20 (refused: UNSUPPORTED_VERSION)")
    assert any(p.fix == "set HARMONIA_SOURCES__GOOGLEADS__API_VERSION=v26" for p in found["googleads"].problems)
    assert found["hubspot"].cells["version"] == (FAIL, "2019-01 (not served)")
    assert exit_code(rows) == 1


async def test_a_version_close_to_its_end_is_a_warning_that_fails_only_when_strict(
        sim_transport: httpx.ASGITransport) -> None:
    rows = await doctor(sim_transport, {"googleads": {"api_version": "v23"}, "shopify": {"api_version": "2026-10"}})
    ads = by_source(rows)["googleads"]
    assert ads.cells["version"] == (WARN, "v23 until ~2027-01-01")
    assert (exit_code(rows), exit_code(rows, strict=True)) == (0, 1)


async def test_a_rotating_shopify_refresh_token_is_not_spent_by_the_doctor_without_redis(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient) -> None:
    rows = await doctor(sim_transport, {"shopify": {"api_version": "2026-10", "oauth": oauth_settings("shopify")}})
    shopify = by_source(rows)["shopify"]
    assert shopify.verdict == WARN and "HARMONIA_REDIS_URL" in shopify.problems[0].fix
    assert await token_requests(control, "shopify") == {}


async def test_with_redis_the_doctor_uses_the_gateways_token_instead_of_renewing(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient, credential_redis: redis.Redis) -> None:
    url = os.environ["HARMONIA_TEST_REDIS_URL"]
    sources = {"shopify": {"api_version": "2026-10", "oauth": oauth_settings("shopify")}}
    first = await doctor(sim_transport, sources, redis_url=url)
    second = await doctor(sim_transport, sources, redis_url=url)
    assert by_source(first)["shopify"].verdict == by_source(second)["shopify"].verdict == OK
    assert await token_requests(control, "shopify") == {"refresh_token": 1}  # the second adopted the saved token


def test_the_command_prints_the_table_and_exits_0_against_the_simulators(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        sim = servers.simulators()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIA_")}
        env |= {f"HARMONIA_SOURCES__{s.upper()}__BASE_URL": f"{sim}/{s}" for s in SOURCES}
        env |= {"HARMONIA_SOURCES__SHOPIFY__API_VERSION": "2026-10", "PYTHONPATH": str(ROOT)}
        table = subprocess.run([sys.executable, "-m", "harmonia.cli", "doctor"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
        assert table.returncode == 0, table.stdout + table.stderr
        assert table.stdout.splitlines()[2].split() == ["SOURCE", "CREDENTIALS", "SCOPES", "API", "VERSION",
                                                         "QUOTA", "HEADROOM"]
        env["HARMONIA_SOURCES__GOOGLEADS__API_VERSION"] = "v21"
        found = subprocess.run([sys.executable, "-m", "harmonia.cli", "doctor", "--json"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
        assert found.returncode == 1
        ads = next(s for s in json.loads(found.stdout)["sources"] if s["source"] == "googleads")
        assert ads["status"] == FAIL and ads["checks"]["version"]["status"] == FAIL



async def declared_doctor(transport: httpx.ASGITransport, **klaviyo: str) -> list[SourceRow]:
    values = declared_settings()
    values["sources"]["klaviyo"].update(klaviyo)
    found = load_folder(SHIPPED_DIR, built_in_type_names())
    return await examine(gateway_settings(sources=values["sources"], sources_dir=SHIPPED_DIR), today=TODAY,
                         transports=dict.fromkeys([*SOURCES, "meta_ads", "klaviyo"], transport), declared=found)


async def test_declared_sources_are_checked_after_the_built_in_five(sim_transport: httpx.ASGITransport) -> None:
    rows = await declared_doctor(sim_transport)
    text = render(rows, TODAY)
    assert [r.source for r in rows][5:] == ["klaviyo", "meta_ads"] and exit_code(rows) == 0, text
    klaviyo, meta = by_source(rows)["klaviyo"], by_source(rows)["meta_ads"]
    assert klaviyo.cells["credentials"] == (OK, "API key") and not klaviyo.problems
    assert klaviyo.cells["version"] == (OK, "2026-10-15 until 2028-10-15")
    assert meta.verdict == OK and meta.cells["version"][1].startswith("v25.0")
    assert klaviyo.cells["quota"][0] == OK and "left of" in klaviyo.cells["quota"][1]


async def test_a_declared_source_refusing_its_key_fails_with_the_fix(sim_transport: httpx.ASGITransport) -> None:
    rows = await declared_doctor(sim_transport, api_key="pk_revoked")
    klaviyo = by_source(rows)["klaviyo"]
    assert exit_code(rows) == 1 and klaviyo.cells["credentials"][0] == FAIL
    assert "refused" in klaviyo.cells["credentials"][1]
    assert "pk_revoked" not in render(rows, TODAY)
