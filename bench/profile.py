"""Where the gateway's CPU goes on one workload: the app in this process, the simulators in another.

    python -m bench.profile --workload b --cache cold --queries 300            # CPU ms per query
    python -m bench.profile --workload b --cache cold --profiler pyinstrument   # and the profile
    python -m bench.profile --workload b --cache warm --profiler cprofile --top 40

The gateway app (``create_app``) runs here under uvloop and is called as an ASGI app directly (no
HTTP client in this process), ``--concurrency`` requests at a time; the simulators run as
``harmonia simulate`` (fixed latency, no rate limits) in a child process, so this process's CPU
time is the gateway's own: the figure printed is process CPU per query. Steadier than wrk on a
shared machine, and what the profile explains.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench.run import SOURCES, WORKLOADS, free_port, wait_up
from harmonia.auth.tokens import mint_token
from harmonia.gc_tuning import tune_garbage_collector
from harmonia.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
SECRET = secrets.token_urlsafe(48)  # this run's HS256 secret: the gateway has no default key


async def call(app: Any, body: bytes, token: str) -> tuple[int, bytes]:
    """One POST /graphql straight into the ASGI app."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
             "root_path": "", "server": ("127.0.0.1", 4000), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"gateway"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {token}".encode()),
                         (b"content-length", str(len(body)).encode())]}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def drive(app: Any, body: bytes, token: str, queries: int, concurrency: int) -> None:
    remaining = queries

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            status, answer = await call(app, body, token)
            if status != 200 or b'"errors"' in answer:
                raise RuntimeError(f"{status}: {answer[:300]!r}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def session(args: argparse.Namespace, sim_url: str) -> None:
    from harmonia.app import create_app

    settings = load_settings(
        sources={name: {"base_url": f"{sim_url}/{name}"} for name in SOURCES}
        | {"hubspot": {"base_url": f"{sim_url}/hubspot", "requests_per_window": 1_000_000}},
        limits={"budget_maximum": 1_000_000_000, "budget_restore_rate": 1e9},
        cache={"enabled": args.cache == "warm"}, auth={"jwt_secret": SECRET})
    app = create_app(settings)
    if not args.default_gc:
        tune_garbage_collector()  # as `harmonia serve` does
    token = mint_token(SECRET, roles=[args.role], sub="profile", ttl=3600)
    async with app.router.lifespan_context(app):
        _, first = await call(app, orjson.dumps({"query": "{ customers(first: 1) { edges { node { id } } } }"}),
                                   token)
        customer_id = orjson.loads(first)["data"]["customers"]["edges"][0]["node"]["id"]
        query = args.query or WORKLOADS[args.workload][1]
        body = orjson.dumps({"query": query % {"customer_id": customer_id}})
        await drive(app, body, token, max(args.concurrency, 20), args.concurrency)  # warm-up (and fill the cache)
        profiler: Any = None
        if args.profiler == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
        elif args.profiler == "cprofile":
            profiler = cProfile.Profile()
            profiler.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        await drive(app, body, token, args.queries, args.concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if args.profiler == "pyinstrument":
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False, timeline=False))
        elif args.profiler == "cprofile":
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats(args.sort).print_stats(args.top)
            if args.dump:
                stats.dump_stats(args.dump)
        print(f"workload ({args.workload}) {args.cache}: {args.queries} queries, {args.concurrency} at a time: "
              f"{cpu * 1000 / args.queries:.2f} ms CPU/query, {args.queries / wall:.0f} queries/s "
              f"(profiler: {args.profiler})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", default="b", choices=sorted(WORKLOADS))
    parser.add_argument("--query", help="this document instead of the workload's (%%(customer_id)s is filled in)")
    parser.add_argument("--cache", default="cold", choices=("cold", "warm"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--role", default="admin")
    parser.add_argument("--profiler", default="none", choices=("none", "pyinstrument", "cprofile"))
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--dump", help="cprofile: also write the stats to this file (pstats format)")
    parser.add_argument("--default-gc", action="store_true", help="keep CPython's GC thresholds")
    parser.add_argument("--sim-url", help="use simulators already running here instead of starting them")
    args = parser.parse_args()
    sim = None
    sim_url = args.sim_url
    if sim_url is None:
        port = free_port()
        sim_url = f"http://127.0.0.1:{port}"
        sim = subprocess.Popen([sys.executable, "-m", "harmonia.cli", "simulate", "--port", str(port),
                                "--latency-ms", str(args.latency_ms), "--no-rate-limits"],
                               env=dict(os.environ), cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_up(f"{sim_url}/__stats")
        try:
            import uvloop

            uvloop.run(session(args, sim_url))
        except ImportError:
            asyncio.run(session(args, sim_url))
    finally:
        if sim is not None:
            sim.terminate()
            sim.wait(timeout=10)


if __name__ == "__main__":
    main()
