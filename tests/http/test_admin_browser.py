"""The /admin page in a real headless Chromium against real servers: an admin toggles a permission and it holds.

The simulators and the gateway run as ``harmonia simulate`` / ``harmonia serve`` processes; Chromium is
driven over DevTools with the helpers of the GraphiQL browser test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import token_for
from tests.http.test_graphiql_browser import DevTools, browser  # noqa: F401 - the fixture, used by name
from tests.servers import Servers

STATS = {"query": "{ campaigns(first: 3) { edges { node { name stats { clicks } } } } }"}
CELL = "document.querySelector('td.cell[data-key=\"Campaign.stats\"][data-role=\"support\"]')"


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with Servers(tmp_path_factory.mktemp("admin-servers")) as servers:
        yield servers.gateway(servers.simulators(), {})


def as_support(url: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json=STATS, headers={"Authorization": f"Bearer {token_for('support')}"})
    body: dict[str, Any] = response.json()
    return body


def test_an_admin_toggles_a_permission_on_the_page_and_the_role_sees_it(
    gateway_url: str, browser: DevTools  # noqa: F811 - pytest fixture
) -> None:
    before = as_support(gateway_url)
    assert {e["extensions"]["code"] for e in before["errors"]} == {"FORBIDDEN"}

    browser.load(f"{gateway_url}/admin#token={token_for('admin', sub='ada')}")
    assert browser.wait_for(f"{CELL}?.textContent") == "DENIED"
    browser.evaluate(f"{CELL}.click()")
    assert browser.wait_for(f"{CELL}.textContent") == "READ?"
    assert "staged" in browser.evaluate(f"{CELL}.className")

    browser.evaluate("document.getElementById('dry-run').click()")
    summary = browser.wait_for("document.getElementById('dry-run-summary')?.textContent")
    assert summary.startswith("Replayed 1 recent operation(s): 1 change(s)")  # support's query above
    assert "ALLOWED" in browser.evaluate("document.getElementById('dry-run-result').textContent")
    check = browser.evaluate("document.getElementById('dry-run-check').textContent")
    assert "POLICY_ALLOWED: Campaign.stats: readable in clear (was denied) for support." in check
    assert check.endswith("Verdict: SAFE (exit 0)")

    browser.evaluate("document.getElementById('apply').click()")
    assert browser.wait_for(f"{CELL}?.textContent === 'READ' && {CELL}.textContent") == "READ"
    audit = browser.wait_for("document.querySelector('#audit tbody tr')?.textContent")
    assert "ada" in audit and "Campaign.stats" in audit and "support" in audit

    after = as_support(gateway_url)
    assert "errors" not in after
    assert all(e["node"]["stats"] is not None for e in after["data"]["campaigns"]["edges"])

    # And back: toggling the cell again and applying denies it again.
    browser.evaluate(f"{CELL}.click()")
    browser.evaluate("document.getElementById('apply').click()")
    assert browser.wait_for(f"{CELL}?.textContent === 'DENIED' && {CELL}.textContent") == "DENIED"
    assert {e["extensions"]["code"] for e in as_support(gateway_url)["errors"]} == {"FORBIDDEN"}

    exceptions = [e["params"] for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]
    assert exceptions == []


def test_a_non_admin_token_gets_no_policy_data_on_the_page(gateway_url: str, browser: DevTools) -> None:  # noqa: F811
    browser.load(f"{gateway_url}/admin#token={token_for('marketer')}")
    message = browser.wait_for("document.querySelector('#status.error')?.textContent")
    assert message == "An admin token is required (harmonia token --role admin)."
    assert browser.evaluate("document.getElementById('panel').hidden") is True
    assert browser.evaluate("document.querySelectorAll('td.cell').length") == 0
