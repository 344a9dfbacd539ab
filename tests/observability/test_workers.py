"""``harmonia serve --workers 2``: /metrics adds up both workers, whichever one answers the scrape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.run import stop
from tests.cache.test_two_processes import ROOT, _free_port, _wait_up
from tests.conftest import SOURCES, TEST_SECRET_ENV, token_for
from tests.observability.promtext import samples, value

RUNS = 40
QUERY = "query Workers { orders(first: 3) { edges { node { name } } } }"


def _one(url: str, token: str) -> int:
    # A fresh connection each time, so the kernel hands requests to either worker.
    with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        response = client.post(f"{url}/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"})
        return response.status_code


def test_metrics_add_up_both_workers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARMONIA_", "OTEL_"))}
    sim_port, port = _free_port(), _free_port()
    sim_url, url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{port}"
    env.update({f"HARMONIA_SOURCES__{name.upper()}__BASE_URL": f"{sim_url}/{name}" for name in SOURCES})
    env.update(TEST_SECRET_ENV)
    metrics_dir = tmp_path / "metrics"
    env.update({"HARMONIA_METRICS_DIR": str(metrics_dir), "HARMONIA_OBSERVABILITY__METRICS_PUBLISH_SECONDS": "0.2"})
    log_path = tmp_path / "gateway.log"
    procs = [subprocess.Popen([sys.executable, "-m", "harmonia.cli", "simulate", "--port", str(sim_port),
                               "--no-rate-limits"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)]
    try:
        _wait_up(f"{sim_url}/__stats", procs[0])
        with log_path.open("wb") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "harmonia.cli", "serve", "--port", str(port),
                                           "--workers", "2"], env=env, cwd=ROOT, stdout=log))
            _wait_up(f"{url}/healthz", procs[1])
            deadline = time.monotonic() + 20
            while len(list(metrics_dir.glob("worker-*.json"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            token = token_for("marketer", sub="worker-test")
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda _: _one(url, token), range(RUNS)))
            assert statuses == [200] * RUNS

            # Another worker's figures arrive within its publish interval; then every scrape agrees.
            deadline = time.monotonic() + 10
            while True:
                found = samples(httpx.get(f"{url}/metrics", timeout=5).text)
                if value(found, "harmonia_operations_total", operation="Workers") == RUNS or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            time.sleep(2.5)  # past every worker's next publish (each second): no snapshot predates the run's end
            for _ in range(6):
                found = samples(httpx.get(f"{url}/metrics", timeout=5).text)
                assert value(found, "harmonia_operations_total", operation="Workers", outcome="OK") == RUNS
                assert value(found, "harmonia_operation_duration_seconds_count", operation="Workers") == RUNS
                assert value(found, "harmonia_metrics_workers") == 2
                assert value(found, "harmonia_cost_points_total", client="all") > 0

            # Both workers answered some of them: without the adding up, a scrape would miss some.
            per_worker = []
            for path in metrics_dir.glob("worker-*.json"):
                fam = json.loads(path.read_bytes())["families"]["harmonia_operations"]
                per_worker.append(sum(v for labels, v in fam["series"] if labels.get("operation") == "Workers"))
            assert len(per_worker) == 2 and sum(per_worker) == RUNS and min(per_worker) > 0, per_worker
    finally:
        stop(procs[::-1], timeout=15)  # the gateway first, then the simulators it calls

    # The operation log: one JSON line per operation, from both workers.
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    ours = [line for line in lines if line.get("operation") == "Workers"]
    assert len(ours) == RUNS and {line["client"] for line in ours} == {"worker-test"}
