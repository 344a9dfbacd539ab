"""What observability costs: the same workload on a build without it, with tracing off, and traced at 100%.

    python -m bench.observability                                   # baseline: this tree, every hook a no-op
    python -m bench.observability --baseline /tmp/harmonia-before   # or a checkout from before the instrumentation
    python -m bench.observability --baseline /tmp/before --workload b --cache cold,warm --rounds 3 --duration 8

Starts the simulators (5 ms latency, no quotas) and, per cache mode, three gateways: ``baseline``
(no instrumentation: by default this very tree with every observability hook replaced by a no-op,
see bench/stripped/sitecustomize.py, so that nothing but the instrumentation differs; or the
source tree given), ``off`` (this tree, no ``OTEL_*`` variables: tracing
off, metrics, the operation log and field usage on) and ``traced`` (this tree,
``OTEL_TRACES_EXPORTER=otlp``, every trace sampled, exported over OTLP/HTTP to a local sink that
answers 200). Runs are interleaved round by round, so the machine's other load falls on all three
alike; it prints each run and the medians (req/s and gateway CPU ms per query), and writes
bench/results/observability.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.run import (
    RESULTS,
    WORKLOADS,
    children,
    cpu_seconds,
    ensure_wrk,
    free_port,
    gateway_env,
    run_wrk,
    stop,
    wait_up,
)

ROOT = Path(__file__).resolve().parent.parent

# An OTLP/HTTP endpoint that accepts and drops everything (an empty protobuf answer is a success).
SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default=None,
                        help="source tree of a build without the instrumentation; default: this tree with every "
                             "observability hook replaced by a no-op (bench/stripped/sitecustomize.py)")
    parser.add_argument("--workload", default="b", choices=sorted(WORKLOADS))
    parser.add_argument("--cache", default="cold,warm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    wrk = ensure_wrk()
    modes = [m.strip() for m in args.cache.split(",") if m.strip()]
    sim_port, sink_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = gateway_env({k: v for k, v in os.environ.items() if not k.startswith(("HARMONIA_", "OTEL_", "PYTHONPATH"))},
                      sim_url)
    builds = {
        "baseline": {"PYTHONPATH": str(Path(args.baseline).resolve()) if args.baseline
                     else f"{ROOT}{os.pathsep}{ROOT / 'bench' / 'stripped'}"},
        "off": {"PYTHONPATH": str(ROOT)},
        "traced": {"PYTHONPATH": str(ROOT), "OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "always_on",
                   "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"},
    }
    procs = [subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)]),
             subprocess.Popen([sys.executable, "-m", "harmonia.cli", "simulate", "--port", str(sim_port),
                               "--latency-ms", "5", "--no-rate-limits"], env={**env, "PYTHONPATH": str(ROOT)},
                              cwd=ROOT, stdout=subprocess.DEVNULL)]
    gateways: dict[tuple[str, str], tuple[str, subprocess.Popen[bytes]]] = {}
    for mode in modes:
        for build, extra in builds.items():
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "harmonia.cli", "serve", "--port", str(port)],
                                    env={**env, **extra, "HARMONIA_CACHE__ENABLED": str(mode == "warm").lower()},
                                    cwd="/", stdout=subprocess.DEVNULL)
            procs.append(proc)
            gateways[(mode, build)] = (f"http://127.0.0.1:{port}", proc)
    runs: dict[str, list[dict[str, float]]] = {f"{m}/{b}": [] for m, b in gateways}
    try:
        wait_up(f"{sim_url}/__stats")
        for url, _ in gateways.values():
            wait_up(f"{url}/healthz")
        token = subprocess.run([sys.executable, "-m", "harmonia.cli", "token", "--role", "admin", "--sub", "bench"],
                               env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                               check=True).stdout.strip()
        query = WORKLOADS[args.workload][1]
        for (_, _), (url, _) in gateways.items():  # warm the caches (and the parse caches) alike
            body = httpx.post(f"{url}/graphql", headers={"Authorization": f"Bearer {token}"}, json={"query": query},
                              timeout=60).json()
            if "errors" in body:
                raise RuntimeError(f"{url}: {body['errors'][:1]}")
        for round_ in range(args.rounds):
            for (mode, build), (url, proc) in gateways.items():
                time.sleep(2)
                pids = [proc.pid, *children(proc.pid)]
                before = sum(cpu_seconds(p) for p in pids)
                figures = run_wrk(wrk, f"{url}/graphql", token, query, args.connections, args.duration)
                figures["cpu_ms_per_query"] = (sum(cpu_seconds(p) for p in pids) - before) * 1000 / max(
                    1, figures["requests"])
                runs[f"{mode}/{build}"].append(figures)
                print(f"round {round_ + 1} {mode:<4} {build:<8} {figures['rps']:8.1f} req/s  "
                      f"p50 {figures['p50_ms']:7.1f} ms  cpu {figures['cpu_ms_per_query']:6.2f} ms/q  "
                      f"non-2xx {figures['non_2xx']}", flush=True)
        summary: dict[str, Any] = {}
        for key, figures in runs.items():
            summary[key] = {"rps_median": statistics.median(f["rps"] for f in figures),
                            "cpu_ms_per_query_median": statistics.median(f["cpu_ms_per_query"] for f in figures),
                            "runs": figures}
        for mode in modes:
            base = summary[f"{mode}/baseline"]
            for build in ("off", "traced"):
                mine = summary[f"{mode}/{build}"]
                print(f"{mode:<4} {build:<7} vs baseline: req/s {mine['rps_median']:.1f} / {base['rps_median']:.1f} "
                      f"({(mine['rps_median'] / base['rps_median'] - 1) * 100:+.1f}%), CPU ms/q "
                      f"{mine['cpu_ms_per_query_median']:.2f} / {base['cpu_ms_per_query_median']:.2f} "
                      f"({(mine['cpu_ms_per_query_median'] / base['cpu_ms_per_query_median'] - 1) * 100:+.1f}%)")
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "observability.json").write_text(json.dumps(
            {"workload": args.workload, "duration_s": args.duration, "connections": args.connections,
             "summary": summary}, indent=2) + "\n")
    finally:
        stop(procs[2:])  # the gateways, to their end: the traced one flushes its spans to the sink, still up
        stop(procs[:2])  # then the sink and the simulators


if __name__ == "__main__":
    main()
