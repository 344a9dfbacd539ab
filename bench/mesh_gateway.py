"""GraphQL Mesh / Hive Gateway (Node) over the same simulators, for workload (b)'s comparison.

    mesh = MeshGateway.start(upstream="http://127.0.0.1:8100")   # composes, then serves on a free port
    try:
        httpx.post(mesh.graphql_url, json={"query": MESH_QUERY})
        cpu = mesh.cpu_seconds()        # the node process and its descendants, from /proc
    finally:
        mesh.stop()

bench/mesh/ holds the npm project (package.json + package-lock.json; `npm ci` installs it), the
composition (mesh.config.ts: one JSON-schema subgraph per REST API) and the gateway's batched
Order.customer resolver (gateway.config.ts). The composed supergraph goes to a temporary directory
and the simulators' base URL reaches the gateway through HARMONIA_MESH_UPSTREAM, read at request
time, so nothing generated is written into the tree.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harmonia.simulators.shopify_schema import SDL

MESH_DIR = Path(__file__).resolve().parent / "mesh"
PACKAGES = ("@graphql-hive/gateway", "@graphql-mesh/compose-cli", "@omnigraph/json-schema", "graphql")
# Pulled in by those, and where the per-query work happens: reported so a figure names its runtime.
RUNTIME_PACKAGES = ("@graphql-hive/gateway-runtime", "@graphql-mesh/fusion-runtime", "@graphql-mesh/transport-rest",
                    "@graphql-tools/batch-delegate")

# Workload (b) in Mesh's schema: the same 50 orders (one Shopify GraphQL query) and the same four
# customer fields from HubSpot (one batch read by email). Mesh exposes Shopify's own field names.
MESH_QUERY = ("{ orders(first: 50, sortKey: ID) { nodes { name createdAt email "
              "totalPriceSet { shopMoney { amount currencyCode } } "
              "crmCustomer { email firstName lastName phone } } } }")


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def ensure_installed() -> None:
    """`npm ci` in bench/mesh when node_modules is missing or older than the lock file."""
    stamp = MESH_DIR / "node_modules" / ".package-lock.json"
    lock = MESH_DIR / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("--mesh needs node and npm on PATH")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=MESH_DIR, check=True)


def versions() -> dict[str, str]:
    """The exact installed versions of the packages that make up the Mesh side, plus node's."""
    found = {"node": subprocess.run(["node", "--version"], capture_output=True, text=True,
                                    check=True).stdout.strip()}
    for name in (*PACKAGES, *RUNTIME_PACKAGES):
        manifest = MESH_DIR / "node_modules" / name / "package.json"
        found[name] = json.loads(manifest.read_text())["version"]
    return found


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (cluster workers, if ``--fork`` is ever raised)."""
    found: list[int] = []
    try:
        tasks = list((Path("/proc") / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads, libuv's pool included), 0 once gone."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ratios(harmonia: dict[str, Any], mesh: dict[str, Any]) -> dict[str, float]:
    """Harmonia ÷ Mesh for req/s (above 1: Harmonia serves more) and p50/p99 (below 1: faster)."""
    out: dict[str, float] = {}
    for key in ("rps", "p50_ms", "p99_ms"):
        ours, theirs = float(harmonia.get(key, math.nan)), float(mesh.get(key, math.nan))
        out[key] = round(ours / theirs, 2) if theirs and not math.isnan(theirs) else math.nan
    return out


def customers_found(answer: dict[str, Any]) -> tuple[int, int]:
    """(orders, orders with a CRM customer) in Mesh's answer, to check it matches Harmonia's."""
    orders = answer["data"]["orders"]["nodes"]
    return len(orders), sum(1 for order in orders if order.get("crmCustomer"))


@dataclass
class MeshGateway:
    """One running Hive Gateway; ``stop()`` ends it and removes the composed supergraph."""

    process: subprocess.Popen[bytes]
    port: int
    workdir: Path

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @classmethod
    def start(cls, upstream: str, port: int, fork: int = 1) -> MeshGateway:
        workdir = Path(tempfile.mkdtemp(prefix="harmonia-bench-mesh-"))
        shopify_sdl = workdir / "shopify-admin.graphql"
        shopify_sdl.write_text(SDL)  # the simulator's own schema: composing needs no introspection call
        env = {**os.environ, "HARMONIA_MESH_UPSTREAM": upstream.rstrip("/"), "NODE_ENV": "production",
               "HARMONIA_MESH_SHOPIFY_SDL": str(shopify_sdl)}
        supergraph = workdir / "supergraph.graphql"
        compose = MESH_DIR / "node_modules" / "@graphql-mesh" / "compose-cli" / "esm" / "bin.js"
        composed = subprocess.run(["node", str(compose), "-c", "mesh.config.ts", "-o", str(supergraph)],
                                  cwd=MESH_DIR, env=env, capture_output=True, text=True)
        if composed.returncode != 0:
            shutil.rmtree(workdir, ignore_errors=True)
            raise RuntimeError(f"mesh-compose failed:\n{composed.stdout}{composed.stderr}")
        gateway = MESH_DIR / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"
        with (workdir / "gateway.log").open("wb") as sink:
            process = subprocess.Popen(
                ["node", str(gateway), "supergraph", str(supergraph), "-c", "gateway.config.ts",
                 "--host", "127.0.0.1", "--port", str(port), "--fork", str(fork)],
                cwd=MESH_DIR, env=env, stdout=sink, stderr=subprocess.STDOUT)
        return cls(process=process, port=port, workdir=workdir)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.workdir / "gateway.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        """CPU of the node process and its live descendants (none unless --fork is raised)."""
        return sum(process_cpu_seconds(pid) for pid in (self.process.pid, *descendants(self.process.pid)))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


Drive = Callable[[str, str], dict[str, Any]]  # (GraphQL URL, query) -> wrk's figures


def compare(*, drive: Drive, sim_url: str, port: int, harmonia_url: str, harmonia_headers: dict[str, str],
            harmonia_query: str, harmonia_workloads: dict[str, Any], sources: tuple[str, ...],
            fork: int = 1, settle_s: float = 3.0) -> dict[str, Any]:
    """Workload (b) through Mesh, measured as run.py measures Harmonia, with Harmonia ÷ Mesh ratios.

    ``harmonia_workloads`` are the run's Harmonia figures; every one whose key starts with "b"
    (cold, and warm when the run has it) gets its ratios. ``fork`` is Hive Gateway's worker count
    (``--fork``): run.py passes Harmonia's own ``--workers`` so both sides get the same processes.
    """
    ensure_installed()
    mesh = MeshGateway.start(sim_url, port, fork=fork)
    try:
        wait_healthy(mesh)
        time.sleep(settle_s)  # let Harmonia's last in-flight requests drain before counting
        ours = httpx.post(harmonia_url, headers=harmonia_headers, json={"query": harmonia_query}, timeout=60).json()
        httpx.post(f"{sim_url}/__reset")
        answer = httpx.post(mesh.graphql_url, json={"query": MESH_QUERY}, timeout=60).json()
        if answer.get("errors") or not answer.get("data"):
            raise RuntimeError(f"Mesh answers errors: {answer.get('errors', answer)}")
        single = httpx.get(f"{sim_url}/__stats").json()
        exact = {s: single[s]["requests"] for s in sources if single[s]["requests"]}
        httpx.post(f"{sim_url}/__reset")
        load_before = os.getloadavg()[0]
        cpu_before = mesh.cpu_seconds()
        figures = drive(mesh.graphql_url, MESH_QUERY)
        cpu = mesh.cpu_seconds() - cpu_before
        stats = httpx.get(f"{sim_url}/__stats").json()
    finally:
        mesh.stop()
    n = max(1, int(figures["requests"]))
    orders, with_customer = customers_found(answer)
    our_orders = [edge["node"] for edge in ours["data"]["orders"]["edges"]]
    return {
        "title": "(b) orders(first: 50) with customer, through GraphQL Mesh / Hive Gateway",
        "versions": versions(),
        "query": MESH_QUERY,
        "fork": fork,
        **figures,
        "gateway_cpu_ms_per_query": round(cpu * 1000 / n, 2),
        # The machine is shared: the 1-minute load average before the run says how busy it was.
        "loadavg_1m_before": round(load_before, 2),
        "upstream_calls_one_query": exact,
        # Under load, requests still in flight when wrk stops made calls but are not counted.
        "upstream_calls_per_query_under_load": {s: round(stats[s]["requests"] / n, 2) for s in sources
                                                if stats[s]["requests"]},
        "same_answer": {"mesh_orders": orders, "mesh_orders_with_customer": with_customer,
                        "harmonia_orders": len(our_orders),
                        "harmonia_orders_with_customer": sum(1 for o in our_orders if o.get("customer"))},
        "harmonia_over_mesh": {key: ratios(figures_, figures) for key, figures_ in harmonia_workloads.items()
                               if key.startswith("b")},
    }


def wait_healthy(mesh: MeshGateway, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mesh.process.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{mesh.port}/healthcheck", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tail = mesh.log_tail()
    mesh.stop()
    raise RuntimeError(f"Hive Gateway did not come up on port {mesh.port}:\n{tail}")


def summary(mesh: dict[str, Any]) -> list[str]:
    """The printed lines: Mesh's figures, then one ratio line per Harmonia (b) variant."""
    label = f"Mesh {mesh['versions']['@graphql-hive/gateway']} (--fork {mesh.get('fork', 1)}), same query"
    lines = [f"(b) {label:<48} "
             f"{mesh['rps']:8.1f} req/s  p50 {mesh['p50_ms']:7.1f} ms  p99 {mesh['p99_ms']:7.1f} ms  "
             f"cpu {mesh['gateway_cpu_ms_per_query']:6.2f} ms/q  upstream/q {mesh['upstream_calls_one_query']}  "
             f"non-2xx {mesh['non_2xx']}"]
    for key, ratio in mesh["harmonia_over_mesh"].items():
        lines.append(f"({key}) Harmonia ÷ Mesh: req/s {ratio['rps']:.2f}x  p50 {ratio['p50_ms']:.2f}x  "
                     f"p99 {ratio['p99_ms']:.2f}x  (req/s above 1 and latency below 1 favour Harmonia)")
    if not mesh["harmonia_over_mesh"]:
        lines.append("no Harmonia (b) figures in this run: run with --workloads including b for the ratios")
    return lines
