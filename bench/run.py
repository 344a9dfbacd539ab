"""The benchmark: simulators at fixed latency, the gateway, load from a separate process (wrk).

    make bench                                  # every workload, cold and warm, 32 connections, 15 s each
    python -m bench.run --workloads b --duration 10 --connections 32 --latency-ms 5
    python -m bench.run --workloads b --mesh    # and GraphQL Mesh / Hive Gateway on (b), same run
    python -m bench.run --workloads d --cache cold,warm    # the nested query without and with the cache

``--cache`` picks the modes: ``cold`` runs a gateway with the entity cache disabled (every query
goes upstream), ``warm`` one with the in-process cache primed by one query before the run.
For each workload and mode it prints req/s, p50, p99, gateway CPU ms per query and upstream calls per
query (read from the simulators' /__stats), and writes bench/results/latest.json.
The simulators run without rate limits and the gateway's pacers are opened wide to match, so
the figures measure Harmonia, not the SaaS quotas. With --mesh, GraphQL Mesh / Hive Gateway (Node,
bench/mesh/) serves workload (b) over the same simulators after Harmonia's workloads, measured the
same way, and the Harmonia ÷ Mesh ratios are printed and saved (see bench/mesh_gateway.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench import mesh_gateway

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SOURCES = ("hubspot", "shopify", "mailchimp", "ga4", "googleads")

WORKLOADS: dict[str, tuple[str, str]] = {
    "a": ("one customer by id, five fields",
          '{ customer(id: "%(customer_id)s") { email firstName lastName phone lifecycleStage } }'),
    "b": ("orders(first: 50) with customer",
          "{ orders(first: 50) { edges { node { name createdAt totalPrice { amount currencyCode } "
          "customer { email firstName lastName phone } } } } }"),
    "c": ("campaigns(first: 20) with stats and analytics",
          "{ campaigns(first: 20) { edges { node { name stats { clicks impressions emailsSent } "
          'analytics(dateRange: {startDate: "2026-01-01", endDate: "2026-03-31"}) { sessions } } } } }'),
    "d": ("customers(first: 50) with orders(first: 5)",
          "{ customers(first: 50) { edges { node { email orders(first: 5) { edges { node { name } } } } } } }"),
    # Writes: the same change every time (HubSpot PATCH, then the contact read back) ...
    "e": ("updateCustomer (PATCH + read back)",
          'mutation { updateCustomer(id: "%(customer_id)s", input: {lifecycleStage: "customer"}) '
          "{ customer { lifecycleStage } } }"),
    # ... and its retry with an idempotency key: the stored answer, no upstream call.
    "f": ("updateCustomer retried with its key (replay)",
          'mutation { updateCustomer(id: "%(customer_id)s", input: {lifecycleStage: "customer"}, '
          'idempotencyKey: "bench-1") { customer { lifecycleStage } replayed } }'),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("bench needs wrk: install Debian's package (apt-get install wrk)")


def parse_latency(text: str, label: str) -> float:
    match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(wrk: str, url: str, token: str, query: str, connections: int, duration: int,
            body: Any = None) -> dict[str, float]:
    """wrk POSTing the GraphQL ``query`` (or the JSON ``body`` given) with the bearer token."""
    text = json.dumps({"query": query} if body is None else body)
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115 - wrk reads it by name
    script.write('wrk.method = "POST"\n'
                 f"wrk.body = {json.dumps(text)}\n"
                 'wrk.headers["Content-Type"] = "application/json"\n'
                 f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    script.close()
    # wrk's default 2 s timeout drops slower responses from the latency histogram (p50/p99 read 0
    # or too low on workload (d) under load); 30 s keeps every response in it.
    out = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency",
                          "-s", script.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"requests": requests, "rps": rps,
            "p50_ms": parse_latency(out, "50%"), "p99_ms": parse_latency(out, "99%"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def a_overhead(wrk: str, gw_url: str, sim_url: str, token: str, customer_id: str,
               args: argparse.Namespace) -> dict[str, float]:
    """Workload (a) at 2 connections (latency, not throughput) against the one upstream call it makes,
    asked of the simulator directly: the p50 difference is what the gateway adds."""
    from harmonia.resolvers.ids import decode_id
    from harmonia.settings import load_settings
    from harmonia.sources.hubspot import OBJECTS_PATH, PROPERTIES

    query = WORKLOADS["a"][1] % {"customer_id": customer_id}
    time.sleep(2)
    gateway = run_wrk(wrk, f"{gw_url}/graphql", token, query, 2, args.duration)
    hubspot = load_settings().sources.hubspot
    body = {"inputs": [{"id": decode_id(customer_id)[1]}], "properties": list(PROPERTIES),
            "propertiesWithHistory": []}
    direct = run_wrk(wrk, f"{sim_url}/hubspot{OBJECTS_PATH}/batch/read?archived=false", hubspot.token, "", 2,
                     args.duration, body=body)
    if direct["non_2xx"]:
        raise RuntimeError(f"HubSpot batch/read asked directly answered {direct['non_2xx']} non-2xx")
    return {"gateway_p50_ms": gateway["p50_ms"], "direct_p50_ms": direct["p50_ms"],
            "overhead_p50_ms": round(gateway["p50_ms"] - direct["p50_ms"], 2),
            "gateway_rps": gateway["rps"], "direct_rps": direct["rps"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", default="abcdef")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="gateway worker processes (one per core here)")
    parser.add_argument("--mesh", action="store_true",
                        help="also run GraphQL Mesh / Hive Gateway on workload (b); needs node + npm")
    parser.add_argument("--mesh-fork", type=int, default=None,
                        help="Hive Gateway's --fork (worker processes); default: --workers, the same as Harmonia's")
    parser.add_argument("--cache", default="cold,warm", help="comma-separated modes: cold, warm")
    parser.add_argument("--role", default="admin", help="the bench token's role (policy enforcement is per role)")
    parser.add_argument("--policy-file", default=None, help="HARMONIA_AUTH__POLICY_FILE for the gateway")
    parser.add_argument("--results", default="latest.json", help="file name under bench/results/")
    args = parser.parse_args()
    if args.mesh and not mesh_gateway.node_available():
        sys.exit("--mesh needs node and npm on PATH")
    modes = [m.strip() for m in args.cache.split(",") if m.strip()]
    if not modes or set(modes) - {"cold", "warm"}:
        parser.error("--cache takes cold, warm or both (cold,warm)")
    wrk = ensure_wrk()
    harmonia = str(Path(sys.executable).parent / "harmonia")
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = gateway_env(os.environ, sim_url)
    env.pop("HARMONIA_REDIS_URL", None)  # the in-process tier: what one instance gains on its own
    if args.policy_file:
        env["HARMONIA_AUTH__POLICY_FILE"] = str(Path(args.policy_file).resolve())
    procs = [subprocess.Popen([harmonia, "simulate", "--port", str(sim_port), "--latency-ms", str(args.latency_ms),
                               "--no-rate-limits"], env=env, stdout=subprocess.DEVNULL)]
    gateways: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    for mode in modes:
        port = free_port()
        mode_env = {**env, "HARMONIA_CACHE__ENABLED": "false" if mode == "cold" else "true"}
        proc = subprocess.Popen([harmonia, "serve", "--port", str(port), "--workers", str(args.workers)],
                                env=mode_env, stdout=subprocess.DEVNULL)
        procs.append(proc)
        gateways[mode] = (f"http://127.0.0.1:{port}", proc)
    try:
        wait_up(f"{sim_url}/__stats")
        for gw_url, _ in gateways.values():
            wait_up(f"{gw_url}/healthz")
        gw_url = next(iter(gateways.values()))[0]
        token = subprocess.run([harmonia, "token", "--role", args.role, "--sub", "bench", "--ttl", "3600"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
        first = httpx.post(f"{gw_url}/graphql", headers={"Authorization": f"Bearer {token}"},
                           json={"query": "{ customers(first: 1) { edges { node { id } } } }"}).json()
        customer_id = first["data"]["customers"]["edges"][0]["node"]["id"]
        results: dict[str, Any] = {"latency_ms": args.latency_ms, "connections": args.connections,
                                   "duration_s": args.duration, "workers": args.workers, "role": args.role,
                                   "policy_file": args.policy_file, "workloads": {}}
        for key, mode in [(k, m) for k in args.workloads for m in modes]:
            gw_url, gw_proc = gateways[mode]
            gateway_pids = [gw_proc.pid, *children(gw_proc.pid)]
            title, template = WORKLOADS[key]
            query = template % {"customer_id": customer_id}
            time.sleep(3)  # let the previous workload's in-flight requests drain before counting
            if mode == "warm":  # a first query fills the cache; the run then measures answers from it
                httpx.post(f"{gw_url}/graphql", headers={"Authorization": f"Bearer {token}"},
                           json={"query": query}, timeout=60)
            # Each worker has caches of its own (no Redis here), and a request goes to whichever accepts
            # it: warm, ask again until one answers from its cache (every worker fills on its first query).
            for _attempt in range(4 * args.workers if mode == "warm" else 1):
                httpx.post(f"{sim_url}/__reset")
                check = httpx.post(f"{gw_url}/graphql", headers={"Authorization": f"Bearer {token}"},
                                   json={"query": query}, timeout=60).json()
                if "errors" in check:
                    raise RuntimeError(f"workload {key} answers errors: {check['errors'][:2]}")
                single = httpx.get(f"{sim_url}/__stats").json()
                exact = {s: single[s]["requests"] for s in SOURCES if single[s]["requests"]}
                if not exact:
                    break
            httpx.post(f"{sim_url}/__reset")
            cpu_before = sum(cpu_seconds(p) for p in gateway_pids)
            figures = run_wrk(wrk, f"{gw_url}/graphql", token, query, args.connections, args.duration)
            cpu = sum(cpu_seconds(p) for p in gateway_pids) - cpu_before
            stats = httpx.get(f"{sim_url}/__stats").json()
            n = max(1, int(figures["requests"]))
            figures["gateway_cpu_ms_per_query"] = round(cpu * 1000 / n, 2)
            figures["upstream_calls_one_query"] = exact
            # Under load, requests still in flight when wrk stops made calls but are not counted.
            figures["upstream_calls_per_query_under_load"] = {s: round(stats[s]["requests"] / n, 2) for s in SOURCES
                                                              if stats[s]["requests"]}
            results["workloads"][f"{key}-{mode}"] = {"title": title, "cache": mode, **figures}
            print(f"({key}) {mode:<4} {title:<48} {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:7.1f} ms  "
                  f"p99 {figures['p99_ms']:7.1f} ms  cpu {figures['gateway_cpu_ms_per_query']:6.2f} ms/q  "
                  f"upstream/q {exact}  non-2xx {figures['non_2xx']}", flush=True)
        if "a" in args.workloads and "cold" in gateways:
            results["a_overhead"] = a_overhead(wrk, gateways["cold"][0], sim_url, token, customer_id, args)
            o = results["a_overhead"]
            print(f"(a) with 2 connections: p50 {o['gateway_p50_ms']:.1f} ms through the gateway, "
                  f"{o['direct_p50_ms']:.1f} ms for HubSpot's batch/read asked directly: "
                  f"{o['overhead_p50_ms']:.1f} ms of gateway overhead", flush=True)
        if args.mesh:
            results["mesh"] = mesh_gateway.compare(
                drive=lambda url, query: run_wrk(wrk, url, token, query, args.connections, args.duration),
                sim_url=sim_url, port=free_port(), harmonia_url=f"{gw_url}/graphql",
                harmonia_headers={"Authorization": f"Bearer {token}"}, harmonia_query=WORKLOADS["b"][1],
                harmonia_workloads=results["workloads"], sources=SOURCES,
                fork=args.mesh_fork if args.mesh_fork is not None else args.workers)
            for line in mesh_gateway.summary(results["mesh"]):
                print(line, flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / args.results).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        stop(procs)


def gateway_env(base: Mapping[str, str], sim_url: str) -> dict[str, str]:
    """``base`` plus what points a gateway at the simulators and, since they enforce no quotas here,
    opens its pacers and its cost budget to match."""
    env = dict(base)
    env.setdefault("HARMONIA_AUTH__JWT_SECRET", secrets.token_urlsafe(48))  # the gateway has no default key
    env.update({f"HARMONIA_SOURCES__{name.upper()}__BASE_URL": f"{sim_url}/{name}" for name in SOURCES})
    # Shopify's pacer follows the bucket the simulator reports: unlimited under --no-rate-limits.
    env.update({"HARMONIA_SOURCES__HUBSPOT__REQUESTS_PER_WINDOW": "1000000",
                "HARMONIA_SOURCES__GOOGLEADS__REQUESTS_PER_SECOND": "1000000",
                "HARMONIA_LIMITS__BUDGET_MAXIMUM": "1000000000", "HARMONIA_LIMITS__BUDGET_RESTORE_RATE": "1000000000"})
    return env


def stop(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 10) -> None:
    """SIGINT to each, in order (so they shut down cleanly), then wait; kill what does not end in time."""
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


if __name__ == "__main__":
    main()
