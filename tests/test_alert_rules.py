"""deploy/alerts: Prometheus' own promtool checks and unit-tests the rules; every metric they read exists.

promtool comes from Debian's prometheus package (scripts/ensure-promtool.sh, run by `make test`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from harmonia.observability.metrics import metrics, record_anomaly
from harmonia.simulators.core import Fault, SimulatorState
from tests.conftest import open_gateway

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy" / "alerts"
# Read by the rules, on /metrics only once something happened that this test does not provoke:
# name -> the process's tally that emits it (its labels are checked instead).
EMITTED_LATER = {"harmonia_credential_renewals_total": "credential_renewals"}
METRIC = re.compile(r"\b(harmonia_[a-z0-9_]+)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: run `bash scripts/ensure-promtool.sh` (make test does)"
    return subprocess.run([tool, *args], capture_output=True, text=True, cwd=ALERTS, timeout=120, check=False)


def test_promtool_accepts_the_rules() -> None:
    done = promtool("check", "rules", "harmonia.rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_rules_fire_when_they_should_and_only_then() -> None:
    done = promtool("test", "rules", "harmonia.rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {t["alertname"] for case in yaml.safe_load((ALERTS / "harmonia.rules.test.yml").read_text())["tests"]
              for t in case["alert_rule_test"]}
    rules = yaml.safe_load((ALERTS / "harmonia.rules.yml").read_text())["groups"]
    alerts = {r["alert"] for g in rules for r in g["rules"] if "alert" in r}
    assert alerts - tested <= {"HarmoniaUpstreamQuotaNearlySpent", "HarmoniaSourceAnomaly"}, alerts - tested


async def test_every_metric_the_rules_read_is_on_the_gateways_metrics(fast_sim_state: SimulatorState) -> None:
    gateway, close = await open_gateway(fast_sim_state, limits={"max_cost": 50, "budget_maximum": 40,
                                                                "budget_restore_rate": 0.01})
    try:
        assert "errors" not in await gateway.query("{ orders(first: 5) { edges { node { name } } } }")
        fast_sim_state.faults["mailchimp"] = Fault(status=503, rate=1.0, latency_ms=0, until=1e18)
        await gateway.query("{ campaigns(first: 2) { edges { node { name } } } }")   # upstream errors
        too_dear = "{ customers(first: 100) { edges { node { orders(first: 50) { edges { node { name } } } } } } }"
        await gateway.query(too_dear)  # COST_LIMIT_EXCEEDED
        for _ in range(5):  # a budget of 40 points, hardly restored: THROTTLED soon
            await gateway.query("{ orders(first: 20) { edges { node { name } } } }", role="marketer")
        record_anomaly("mailchimp", "errors")
        await gateway.app.state.watch.refresh()
        scraped = (await gateway.client.get("/metrics")).text
    finally:
        fast_sim_state.faults.clear()
        await close()
    on_metrics = {line.split("{")[0].split(" ")[0] for line in scraped.splitlines() if line and line[0] != "#"}
    missing = {m for m in read_by_rules_and_dashboard() if m not in on_metrics and m not in EMITTED_LATER}
    assert missing == set(), f"the rules or the dashboard read metrics the gateway does not emit: {missing}"
    # A renewal is counted with these labels, and outcomes the rule reads (harmonia/credentials/renewing.py).
    assert metrics().credential_renewals.labels == ("source", "grant", "outcome")
    renewing = (ROOT / "harmonia" / "credentials" / "renewing.py").read_text()
    for outcome in ("renewed", "adopted", "refused", "failed"):
        assert f'"{outcome}"' in renewing and outcome in (ALERTS / "harmonia.rules.yml").read_text()


def read_by_rules_and_dashboard() -> set[str]:
    groups = yaml.safe_load((ALERTS / "harmonia.rules.yml").read_text())["groups"]
    exprs = [r["expr"] for g in groups for r in g["rules"]]
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "harmonia.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return {m for e in exprs for m in METRIC.findall(e)}


def test_the_dashboard_reads_only_recorded_series_that_the_rules_define() -> None:
    groups = yaml.safe_load((ALERTS / "harmonia.rules.yml").read_text())["groups"]
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "harmonia.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"harmonia:[a-z0-9_:]+", e)}
    assert used and used <= recorded
    assert all(p["datasource"]["uid"] == "harmonia-prometheus" for p in dashboard["panels"])
