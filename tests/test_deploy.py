"""docker-compose.yml wires the gateway to the OpenTelemetry Collector, Jaeger and Prometheus consistently."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return loaded


def test_the_gateway_sends_traces_to_the_collector_which_sends_them_to_jaeger() -> None:
    services = _load("docker-compose.yml")["services"]
    env = services["gateway"]["environment"]
    assert env["OTEL_TRACES_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    collector = services["otel-collector"]
    [mount] = [v for v in collector["volumes"] if "otel-collector.yaml" in v]
    source, target = mount.split(":")[:2]
    assert f"--config={target}" in collector["command"]
    config = _load(source.removeprefix("./"))
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    [exporter] = config["service"]["pipelines"]["traces"]["exporters"]
    host = config["exporters"][exporter]["endpoint"].split(":")[0]
    assert host in services and services[host]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> repository path of a service's bind mounts."""
    return {v.split(":")[1]: v.split(":")[0].removeprefix("./") for v in service["volumes"]}


def test_prometheus_scrapes_the_gateways_metrics() -> None:
    services = _load("docker-compose.yml")["services"]
    mounts = _mounts(services["prometheus"])
    config = _load(mounts["/etc/prometheus/prometheus.yml"])
    [job] = config["scrape_configs"]
    [target] = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert job["metrics_path"] == "/metrics" and host == "gateway"
    assert f"--port\", \"{port}" in str(services["gateway"]["command"]).replace("'", '"')


def test_the_image_installs_exactly_the_locked_runtime_set() -> None:
    """Every pip install in the Dockerfile either takes the lock with hashes or resolves nothing."""
    runs = re.findall(r"^RUN (.+?)(?<!\\)$", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE | re.DOTALL)
    installs = [" ".join(run.replace("\\\n", " ").split()) for run in runs if "pip install" in run]

    assert installs
    assert any("--require-hashes" in i and "-r requirements/runtime.txt" in i for i in installs)
    assert all("--no-deps" in i for i in installs)


def test_prometheus_loads_the_alerting_rules_and_sends_alerts_to_alertmanager() -> None:
    services = _load("docker-compose.yml")["services"]
    mounts = _mounts(services["prometheus"])
    config = _load(mounts["/etc/prometheus/prometheus.yml"])
    [rules] = config["rule_files"]
    directory = next(c for c in mounts if rules.startswith(c + "/"))
    assert (ROOT / mounts[directory] / rules.removeprefix(directory + "/")).is_file()
    [target] = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in services and f"127.0.0.1:{port}:{port}" in services[host]["ports"]
    manager = _load(_mounts(services[host])["/etc/alertmanager/alertmanager.yml"])
    assert manager["route"]["receiver"] in {r["name"] for r in manager["receivers"]}


def test_grafana_provisions_the_prometheus_source_and_the_harmonia_dashboard() -> None:
    services = _load("docker-compose.yml")["services"]
    mounts = _mounts(services["grafana"])
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in services
    [provider] = yaml.safe_load((provisioning / "dashboards" / "harmonia.yml").read_text())["providers"]
    dashboards = ROOT / mounts[provider["options"]["path"]]
    dashboard = json.loads((dashboards / "harmonia.json").read_text())
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {source["uid"]}
    assert services["grafana"]["ports"] == ["127.0.0.1:3000:3000"]
