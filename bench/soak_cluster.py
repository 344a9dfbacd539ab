"""The long soak (figures, not a test): three gateway instances sharing a Redis Cluster, rolling upstream
faults, RSS and tracemalloc growth over an hour.

    python -m bench.soak_cluster                         # 60 minutes, 20 requests/s over 3 instances
    python -m bench.soak_cluster --minutes 5 --rate 30

A Redis Cluster of three masters with a replica each (``tests/topologies.py``), the simulators at a
fixed latency without quotas, and three ``harmonia serve`` processes on it, caches off so every request
meets the sources and the faults (a 20-second fault on one source every minute: 503, timeout, reset, 429
in turn). Requests go round-robin, open loop. Instance 1 runs with tracemalloc (snapshots at the start,
half-way and the end: the top growth sites between them); instance 2 as shipped; instance 3 with
``http.malloc_trim_seconds: 0`` (no trimming), to tell heap high-water marks from growth. Counted as
errors: transport failures, any 5xx, and ``INTERNAL``. Writes bench/results/soak_cluster.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.run import RESULTS, SOURCES, free_port, gateway_env, stop, wait_up
from bench.soak import FAULTS, MIX, rss_mb
from tests.topologies import cluster


class Instances:
    def __init__(self, urls: list[str], procs: list[subprocess.Popen[bytes]], snapshots: Path) -> None:
        self.urls = urls
        self.procs = procs
        self.snapshots = snapshots
        self.taken = 0

    def rss(self) -> list[float]:
        return [rss_mb([p.pid]) for p in self.procs]

    async def snapshot(self) -> Path:
        """Ask instance 1 for a tracemalloc snapshot and wait until it is written."""
        n = self.taken
        self.taken += 1
        self.procs[0].send_signal(signal.SIGUSR1)
        done = self.snapshots / f"snapshot-{n}.done"
        while not done.exists():  # noqa: ASYNC110 - another process writes it
            await asyncio.sleep(0.2)
        return self.snapshots / f"snapshot-{n}.bin"


async def soak(instances: Instances, sim: str, token: str, customer_id: str, rate: float,
               seconds: float) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    errors = 0
    samples: list[dict[str, Any]] = []
    snapshots: list[tuple[float, Path]] = []
    headers = {"Authorization": f"Bearer {token}"}
    queries = [q % {"customer_id": customer_id} if "%(" in q else q for q in MIX]

    async def one(client: httpx.AsyncClient, url: str, query: str) -> None:
        nonlocal errors
        try:
            response = await client.post(f"{url}/graphql", json={"query": query}, headers=headers)
        except httpx.HTTPError:
            errors += 1
            statuses["transport"] += 1
            return
        statuses[str(response.status_code)] += 1
        if response.status_code >= 500:
            errors += 1
        for error in response.json().get("errors", ()):
            code = error.get("extensions", {}).get("code", "MISSING")
            codes[code] += 1
            if code in ("INTERNAL", "MISSING"):
                errors += 1

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        tasks: set[asyncio.Task[None]] = set()
        began = time.monotonic()
        n = 0
        next_sample, next_fault = began, began + 30.0
        marks = [began + 60.0, began + seconds / 2, began + seconds - 5]  # snapshots: warm, half-way, end
        while (now := time.monotonic()) - began < seconds:
            if now >= next_sample:
                samples.append({"t": round(now - began), "rss_mb": instances.rss(), "in_flight": len(tasks)})
                print(json.dumps(samples[-1]), flush=True)
                next_sample += 60.0
            if marks and now >= marks[0]:
                marks.pop(0)
                snapshots.append((now - began, await instances.snapshot()))
            if now >= next_fault:
                k = int((now - began) // 60)
                fault = {"source": SOURCES[k % len(SOURCES)], "rate": 1.0, "seconds": 20, **FAULTS[k % len(FAULTS)]}
                await client.post(f"{sim}/__faults", json=fault)
                next_fault += 60.0
            url = instances.urls[n % len(instances.urls)]
            task = asyncio.create_task(one(client, url, queries[n % len(queries)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        await asyncio.gather(*tasks)
    samples.append({"t": round(time.monotonic() - began), "rss_mb": instances.rss(), "in_flight": 0})
    return {"requests": n, "errors": errors, "statuses": dict(statuses), "error_codes": dict(codes),
            "rss_samples": samples, "tracemalloc": growth(snapshots)}


def growth(snapshots: list[tuple[float, Path]]) -> dict[str, Any]:
    """Traced totals at each snapshot, and the top growth sites from the first to the last."""
    if len(snapshots) < 2:
        return {}
    loaded = [(t, tracemalloc.Snapshot.load(str(p))) for t, p in snapshots]
    keep = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    loaded = [(t, s.filter_traces(keep)) for t, s in loaded]
    totals = [{"t": round(t), "traced_mb": round(sum(x.size for x in s.statistics("filename")) / 2**20, 2)}
              for t, s in loaded]
    top = loaded[-1][1].compare_to(loaded[0][1], "lineno")[:15]
    return {"totals": totals, "top_growth": [{"site": str(d.traceback), "growth_kb": round(d.size_diff / 1024, 1),
                                              "size_kb": round(d.size / 1024, 1), "count_diff": d.count_diff}
                                             for d in top]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()
    harmonia = str(Path(sys.executable).parent / "harmonia")
    work = Path(tempfile.mkdtemp(prefix="harmonia-soak-"))
    topology = cluster(work / "cluster")
    sim_port = free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    env = gateway_env(os.environ, sim)
    env.update({"HARMONIA_CACHE__ENABLED": "false", "HARMONIA_REDIS_URL": topology.settings["redis_url"],
                "HARMONIA_REDIS_MODE": "cluster", "HARMONIA_TRACEMALLOC_DIR": str(work)})
    procs = [subprocess.Popen([harmonia, "simulate", "--port", str(sim_port), "--latency-ms", str(args.latency_ms),
                               "--no-rate-limits"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    gateways: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for i in range(3):
            port = free_port()
            own = env | ({"HARMONIA_HTTP__MALLOC_TRIM_SECONDS": "0"} if i == 2 else {})
            command = [sys.executable, "-m", "bench.traced_gateway"] if i == 0 else [harmonia, "serve"]
            gateways.append(subprocess.Popen([*command, "--port", str(port)], env=own, stdout=subprocess.DEVNULL,
                                             stderr=open(work / f"gateway-{i}.log", "wb")))  # noqa: SIM115
            urls.append(f"http://127.0.0.1:{port}")
        wait_up(f"{sim}/__stats")
        for url in urls:
            wait_up(f"{url}/healthz")
        token = subprocess.run([harmonia, "token", "--role", "admin", "--sub", "soak", "--ttl", "86400"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
        first = httpx.post(f"{urls[1]}/graphql", headers={"Authorization": f"Bearer {token}"},
                           json={"query": "{ customers(first: 1) { edges { node { id } } } }"}).json()
        customer_id = first["data"]["customers"]["edges"][0]["node"]["id"]
        instances = Instances(urls, gateways, work)
        load_start = os.getloadavg()
        result = asyncio.run(soak(instances, sim, token, customer_id, args.rate, args.minutes * 60))
        result.update({"minutes": args.minutes, "rate_per_s": args.rate, "latency_ms": args.latency_ms,
                       "instances": ["tracemalloc", "as shipped", "malloc_trim off"], "redis": "cluster 3+3",
                       "loadavg_start": load_start, "loadavg_end": os.getloadavg()})
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "soak_cluster.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "rss_samples"}, indent=1), flush=True)
    finally:
        stop([*gateways, *procs])
        topology.stop()


if __name__ == "__main__":
    main()
