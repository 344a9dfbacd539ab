"""docker-compose.yml wires the gateway to the OpenTelemetry Collector, Jaeger and Prometheus consistently."""

from __future__ import annotations

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


def test_prometheus_scrapes_the_gateways_metrics() -> None:
    services = _load("docker-compose.yml")["services"]
    [mount] = services["prometheus"]["volumes"]
    config = _load(mount.split(":")[0].removeprefix("./"))
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
