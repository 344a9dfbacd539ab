"""/admin/sources in a real headless Chromium against real servers under traffic: charts, and a fault turning a source.

``harmonia simulate`` and ``harmonia serve`` run as processes (caches off, so every query meets the
sources); a thread here keeps queries flowing through every source while the page is looked at.
``HARMONIA_UPDATE_SCREENSHOTS=1`` also writes the page's screenshot to docs/sources-catalogue.png.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import token_for
from tests.http.test_graphiql_browser import DevTools, browser  # noqa: F401 - the fixture, used by name
from tests.servers import ROOT, Servers, free_port

TRAFFIC = """{ customers(first: 5) { edges { node { email totalSpent { amount } emailMarketingStatus } } }
  campaigns(first: 50) { edges { node { name stats { clicks } } } }
  analytics(dateRange: {startDate: "2026-06-01", endDate: "2026-06-30"}, dimensions: ["deviceCategory"],
            metrics: ["sessions"]) { rowCount } }"""
CARD = "document.querySelector('.card[data-source=\"{}\"]')"


class Traffic:
    """Queries through every source, a few per second, until stopped."""

    def __init__(self, gateway: str) -> None:
        self.gateway = gateway
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {token_for('admin', sub='dashboard')}",
                   "graphql-client-name": "dashboard"}
        with httpx.Client(timeout=15) as client:
            while not self.stopped.wait(0.25):
                # A slow answer during a fault: the next one goes out anyway.
                with contextlib.suppress(httpx.HTTPError):
                    client.post(f"{self.gateway}/graphql", json={"query": TRAFFIC}, headers=headers)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with Servers(tmp_path_factory.mktemp("sources-servers")) as running:
        # With the SaaS quotas on, as the real APIs: the catalogue shows them as the sources report them.
        sim = running.start("simulators", ["simulate", "--latency-ms", "5"], {}, free_port())
        gateway = running.gateway(sim, {"HARMONIA_CACHE__ENABLED": "false",
                                        "HARMONIA_UPSTREAM__CIRCUIT_RESET_SECONDS": "30"})
        traffic = Traffic(gateway)
        traffic.thread.start()
        try:
            yield gateway, sim
        finally:
            traffic.stopped.set()
            traffic.thread.join(timeout=20)
            httpx.delete(f"{sim}/__faults")


def _series_sum(tools: DevTools, chart: str, index: int) -> float:
    value = tools.evaluate(f"(window.harmoniaCharts[{chart!r}]?.data[{index}] || []).reduce((a, b) => a + (b || 0), 0)")
    return float(value or 0)


def _painted(tools: DevTools, source: str) -> int:
    """Pixels drawn on the source's charts (uPlot draws on canvas: an empty chart has none but its axes)."""
    return int(tools.evaluate(f"""[...{CARD.format(source)}.querySelectorAll('canvas')].reduce((n, c) => {{
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let k = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) k++; return n + k; }}, 0)"""))


def test_the_catalogue_charts_every_source_from_a_real_run(
        servers: tuple[str, str], browser: DevTools, tmp_path: Path) -> None:  # noqa: F811 - pytest fixture
    gateway, _ = servers
    browser.load(f"{gateway}/admin/sources#token={token_for('admin', sub='ada')}&step=10&refresh=1")

    for source in ("hubspot", "shopify", "mailchimp", "ga4", "googleads"):
        browser.wait_for(f"(window.harmoniaCharts?.[{source + ':traffic'!r}]?.data[1] || [])"
                         ".reduce((a, b) => a + (b || 0), 0) > 0")
        assert browser.evaluate(f"{CARD.format(source)}.dataset.circuit") == "closed"
        assert _painted(browser, source) > 500
        figures = browser.evaluate(f"{CARD.format(source)}.querySelector('.latency-figures').textContent")
        assert figures.endswith(" ms") and "—" not in figures
    quota = browser.evaluate(f"{CARD.format('shopify')}.querySelector('.quota').textContent")
    assert "cost points" in quota and "left" in quota
    rows = browser.evaluate("document.querySelectorAll('#fields tbody tr').length")
    assert rows > 50
    assert "mailchimp" in browser.evaluate("[...document.querySelectorAll('#fields tbody tr')]"
                                           ".find(r => r.cells[0].textContent === 'Customer.emailMarketingStatus')"
                                           ".cells[1].textContent")
    assert not [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]
    # Nothing but the gateway: the chart library is the vendored one.
    assert {u.split("/")[2] for u in browser.requested_urls() if u.startswith("http")} == {gateway.split("/")[2]}


def test_a_fault_in_one_simulator_turns_that_source_within_seconds(
        servers: tuple[str, str], browser: DevTools, tmp_path: Path) -> None:  # noqa: F811 - pytest fixture
    gateway, sim = servers
    browser.load(f"{gateway}/admin/sources#token={token_for('admin', sub='ada')}&step=5&refresh=1")
    browser.wait_for(f"{CARD.format('shopify')}?.dataset.circuit === 'closed'")
    errors_before = _series_sum(browser, "shopify:traffic", 2)

    assert httpx.post(f"{sim}/__faults", json={"source": "shopify", "status": 503, "rate": 1.0,
                                                "seconds": 60}).status_code == 200
    try:
        browser.wait_for(f"{CARD.format('shopify')}.dataset.circuit === 'open'", timeout=20)
        browser.wait_for(f"(window.harmoniaCharts['shopify:traffic'].data[2] || [])"
                         f".reduce((a, b) => a + (b || 0), 0) > {errors_before}", timeout=20)
        assert "open" in browser.evaluate(f"{CARD.format('shopify')}.querySelector('.circuit').className")
        assert "shopify" in browser.evaluate("document.getElementById('status').textContent")
        # The other sources are untouched.
        for other in ("hubspot", "mailchimp", "ga4", "googleads"):
            assert browser.evaluate(f"{CARD.format(other)}.dataset.circuit") == "closed"
        screenshot(browser, tmp_path)
    finally:
        httpx.delete(f"{sim}/__faults")


def screenshot(tools: DevTools, tmp_path: Path) -> None:
    """The page as it is (for the README with HARMONIA_UPDATE_SCREENSHOTS=1)."""
    tools.send("Emulation.setDeviceMetricsOverride", width=1400, height=1300, deviceScaleFactor=1, mobile=False)
    tools.evaluate("new Promise((done) => setTimeout(done, 1500))")  # a refresh at the new size
    shot = base64.b64decode(tools.send("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "sources-catalogue.png").write_bytes(shot)
    if os.environ.get("HARMONIA_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "docs" / "sources-catalogue.png").write_bytes(shot)


def test_a_non_admin_token_gets_no_source_data_on_the_page(
        servers: tuple[str, str], browser: DevTools) -> None:  # noqa: F811 - pytest fixture
    gateway, _ = servers
    browser.load(f"{gateway}/admin/sources#token={token_for('marketer')}")
    message = browser.wait_for("document.querySelector('#status.error')?.textContent")
    assert message == "An admin token is required (harmonia token --role admin)."
    assert browser.evaluate("document.getElementById('panel').hidden") is True
    assert browser.evaluate("document.querySelectorAll('.card').length") == 0
