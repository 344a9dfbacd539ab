"""The soak benchmark (figures, not a test): mixed load at a fixed rate for a long time; errors and the
gateway's memory at start and end.

    python -m bench.soak                        # 10 minutes at 20 requests/s
    python -m bench.soak --minutes 2 --rate 40 --faults
    python -m bench.soak --faults --cache on     # the caches on: the repeated mix is answered from them

Simulators at a fixed latency without quotas (pacers opened to match, as in bench.run), one gateway
process, and an open-loop client here: a request starts every 1/rate seconds whether or not the
previous ones answered, so a slow gateway shows up as latency and errors, not as a lower rate.
``--faults`` injects a 20-second fault on one source (503, timeout, reset, 429 in turn) every minute.
Counted as errors: transport failures, any 5xx, and ``INTERNAL``; upstream codes are counted apart.
Writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.run import RESULTS, SOURCES, WORKLOADS, children, free_port, gateway_env, stop, wait_up

MIX = [
    WORKLOADS["a"][1],
    WORKLOADS["b"][1],
    WORKLOADS["c"][1],
    "{ customers(first: 10) { edges { node { email totalSpent { amount } emailMarketingStatus "
    "orders(first: 3) { edges { node { name } } } } } } }",
    '{ analytics(dateRange: {startDate: "2026-06-01", endDate: "2026-06-30"}, dimensions: ["deviceCategory"], '
    'metrics: ["sessions"]) { rowCount } }',
]
FAULTS = [{"status": 503}, {"kind": "timeout"}, {"kind": "reset"}, {"status": 429}]


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


async def soak(gw: str, sim: str, token: str, customer_id: str, rate: float, seconds: float, faults: bool,
               pids: list[int]) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    latencies: list[float] = []
    errors = 0
    samples: list[dict[str, float]] = []
    headers = {"Authorization": f"Bearer {token}"}
    queries = [q % {"customer_id": customer_id} if "%(" in q else q for q in MIX]

    async def one(client: httpx.AsyncClient, query: str) -> None:
        nonlocal errors
        started = time.monotonic()
        try:
            response = await client.post(f"{gw}/graphql", json={"query": query}, headers=headers)
        except httpx.HTTPError:
            errors += 1
            statuses["transport"] += 1
            return
        latencies.append((time.monotonic() - started) * 1000)
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
        next_sample = began
        next_fault = began + 30.0
        while (now := time.monotonic()) - began < seconds:
            if now >= next_sample:
                samples.append({"t": round(now - began), "rss_mb": rss_mb(pids), "in_flight": len(tasks)})
                next_sample += 60.0
            if faults and now >= next_fault:
                k = int((now - began) // 60)
                fault = {"source": SOURCES[k % len(SOURCES)], "rate": 1.0, "seconds": 20, **FAULTS[k % len(FAULTS)]}
                await client.post(f"{sim}/__faults", json=fault)
                next_fault += 60.0
            task = asyncio.create_task(one(client, queries[n % len(queries)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        await asyncio.gather(*tasks)
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else float("nan")

    return {"requests": n, "errors": errors, "statuses": dict(statuses), "error_codes": dict(codes),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "rss_samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--cache", default="off", choices=("off", "on"),
                        help="off (default): every request reaches the sources, so the faults meet them; on: the "
                             "repeated mix is answered by the caches, faults and all")
    args = parser.parse_args()
    harmonia = str(Path(sys.executable).parent / "harmonia")
    sim_port, gw_port = free_port(), free_port()
    sim, gw = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{gw_port}"
    env = gateway_env(os.environ, sim)
    env["HARMONIA_CACHE__ENABLED"] = "true" if args.cache == "on" else "false"
    procs = [subprocess.Popen([harmonia, "simulate", "--port", str(sim_port), "--latency-ms", str(args.latency_ms),
                               "--no-rate-limits"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL),  # each injected reset logs a traceback there
             subprocess.Popen([harmonia, "serve", "--port", str(gw_port)], env=env, stdout=subprocess.DEVNULL)]
    try:
        wait_up(f"{sim}/__stats")
        wait_up(f"{gw}/healthz")
        token = subprocess.run([harmonia, "token", "--role", "admin", "--sub", "soak", "--ttl", "86400"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
        first = httpx.post(f"{gw}/graphql", headers={"Authorization": f"Bearer {token}"},
                           json={"query": "{ customers(first: 1) { edges { node { id } } } }"}).json()
        customer_id = first["data"]["customers"]["edges"][0]["node"]["id"]
        pids = [procs[1].pid, *children(procs[1].pid)]
        rss_start = rss_mb(pids)
        result = asyncio.run(soak(gw, sim, token, customer_id, args.rate, args.minutes * 60, args.faults, pids))
        result.update({"minutes": args.minutes, "rate_per_s": args.rate, "latency_ms": args.latency_ms,
                       "faults": args.faults, "cache": args.cache, "rss_start_mb": rss_start,
                       "rss_end_mb": rss_mb(pids)})
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "rss_samples"}), flush=True)
    finally:
        stop(procs)


if __name__ == "__main__":
    main()
