"""The anomaly benchmark (figures, not a test): an hour of steady traffic must post nothing; then one source
ten times slower must be posted once, within a minute.

    python -m bench.anomalies                          # 60 steady minutes at 8 requests/s, then mailchimp x10
    python -m bench.anomalies --minutes 5 --rate 4     # a shorter look

Simulators at a fixed latency (``--latency-ms``) without quotas, one gateway process with its default
detector (30-second window against a 10-minute baseline, checked every 5 s, 15-minute cooldown) and caches
off, so every request meets the sources; a Slack-compatible webhook receiver here on 127.0.0.1; an
open-loop client sending a mix of queries over all five sources. After the steady phase the simulator of
``--source`` answers ``--factor`` times slower (POST /__faults latency_ms) for up to ``--after-minutes``.
Writes bench/results/anomalies.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.run import RESULTS, free_port, gateway_env, stop, wait_up

MIX = [
    "{ customers(first: 10) { edges { node { email totalSpent { amount } emailMarketingStatus } } } }",
    "{ orders(first: 10) { edges { node { name totalPrice { amount } } } } }",
    "{ campaigns(first: 50) { edges { node { name stats { clicks } } } } }",
    '{ analytics(dateRange: {startDate: "2026-06-01", endDate: "2026-06-30"}, dimensions: ["deviceCategory"], '
    'metrics: ["sessions"]) { rowCount } }',
]


class Receiver:
    def __init__(self) -> None:
        self.posts: list[tuple[float, dict[str, Any]]] = []
        self.posted = threading.Event()
        posts, posted = self.posts, self.posted

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                posts.append((time.time(), json.loads(body)))
                posted.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def load(gw: str, token: str, rate: float, until: float, statuses: Counter[str]) -> None:
    """Open loop: a request every 1/rate seconds whatever the previous ones do."""
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        async def one(query: str) -> None:
            try:
                response = await client.post(f"{gw}/graphql", json={"query": query})
                statuses[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1

        tasks: set[asyncio.Task[None]] = set()
        n = 0
        start = time.monotonic()
        while time.time() < until:
            task = asyncio.create_task(one(MIX[n % len(MIX)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        await asyncio.gather(*tasks)


def catalogue(gw: str, token: str) -> dict[str, Any]:
    body = httpx.post(f"{gw}/graphql", headers={"Authorization": f"Bearer {token}"}, timeout=30, json={
        "query": "{ sources { anomalies { source kind state at message } "
                 "sources { name latencyP50Ms latencyP99Ms callsPerMinute errorRate } } }"}).json()
    result: dict[str, Any] = body["data"]["sources"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60.0, help="the steady phase")
    parser.add_argument("--rate", type=float, default=8.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--source", default="mailchimp")
    parser.add_argument("--factor", type=float, default=10.0)
    parser.add_argument("--after-minutes", type=float, default=3.0, help="how long the slowdown may last at most")
    args = parser.parse_args()
    harmonia = str(Path(sys.executable).parent / "harmonia")
    receiver = Receiver()
    sim_port, gw_port = free_port(), free_port()
    sim, gw = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{gw_port}"
    env = gateway_env(os.environ, sim)
    env.update({"HARMONIA_CACHE__ENABLED": "false", "HARMONIA_ALERTS__WEBHOOK_URL": receiver.url,
                "HARMONIA_ALERTS__GATEWAY_NAME": "bench"})
    procs = [subprocess.Popen([harmonia, "simulate", "--port", str(sim_port), "--latency-ms", str(args.latency_ms),
                               "--no-rate-limits"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen([harmonia, "serve", "--port", str(gw_port)], env=env, stdout=subprocess.DEVNULL)]
    try:
        wait_up(f"{sim}/__stats")
        wait_up(f"{gw}/healthz")
        token = subprocess.run([harmonia, "token", "--role", "admin", "--sub", "bench", "--ttl", "86400"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
        statuses: Counter[str] = Counter()
        started = time.time()
        steady_end = started + args.minutes * 60
        print(f"steady phase: {args.minutes} min at {args.rate}/s, simulators at {args.latency_ms} ms", flush=True)
        asyncio.run(load(gw, token, args.rate, steady_end, statuses))
        steady_posts = list(receiver.posts)
        steady_view = catalogue(gw, token)
        steady_statuses = dict(statuses)
        print(f"steady phase over: {len(steady_posts)} posts, statuses {steady_statuses}", flush=True)

        extra = args.latency_ms * (args.factor - 1)
        httpx.post(f"{sim}/__faults", json={"source": args.source, "status": 200, "rate": 0.0, "latency_ms": extra,
                                            "seconds": args.after_minutes * 60})
        injected = time.time()

        async def slow_phase() -> None:
            stop_at = injected + args.after_minutes * 60
            runner = asyncio.create_task(load(gw, token, args.rate, stop_at, statuses))
            receiver.posted.clear()
            await asyncio.to_thread(receiver.posted.wait, max(0.0, stop_at - time.time()))
            await asyncio.sleep(min(60.0, max(0.0, stop_at - time.time())))  # a minute more: no second post
            runner.cancel()

        asyncio.run(slow_phase())
        after = [p for p in receiver.posts if p[0] >= injected]
        result = {
            "steady_minutes": args.minutes, "rate_per_s": args.rate, "latency_ms": args.latency_ms,
            "steady_requests": sum(steady_statuses.values()), "steady_statuses": steady_statuses,
            "steady_webhook_posts": len(steady_posts), "steady_anomalies": steady_view["anomalies"],
            "steady_sources": steady_view["sources"],
            "slowed_source": args.source, "slowed_to_ms": args.latency_ms * args.factor,
            "seconds_to_first_post": round(after[0][0] - injected, 1) if after else None,
            "posts_after_slowdown": len(after), "first_post_text": after[0][1]["text"] if after else None,
            "anomalies_at_end": catalogue(gw, token)["anomalies"],
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "anomalies.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "steady_sources"}), flush=True)
    finally:
        stop(procs)
        receiver.server.shutdown()


if __name__ == "__main__":
    main()
