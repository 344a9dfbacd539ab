"""Gateway CPU per query: a declared source's join against an equivalent built-in one.

    python -m bench.declared --queries 200 --rounds 5        # writes bench/results/declared.json

Both queries read 50 customers (HubSpot) and one batched join per customer with four leaves: the
declared ``klaviyoProfile { id email firstName lastName }`` (one Klaviyo call, the YAML connector)
against the built-in Shopify ``totalSpent { amount currencyCode } ordersCount`` plus ``lastName``
(one Shopify GraphQL call, the hand-written connector). The simulators run in their own process
(``harmonia simulate``) and the gateway in this one, so ``time.process_time`` counts the gateway alone:
parsing, planning, pricing, authorization, execution, the upstream HTTP calls, JSON both ways. The entity
and response caches are off, so every query goes upstream. Rounds alternate between the two; medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUERIES = {
    "declared (Klaviyo)": "{ customers(first: 50) { edges { node { id email "
                          "klaviyoProfile { id email firstName lastName } } } } }",
    "built-in (Shopify)": "{ customers(first: 50) { edges { node { id email lastName "
                          "totalSpent { amount currencyCode } ordersCount } } } }",
    "base (HubSpot only)": "{ customers(first: 50) { edges { node { id email } } } }",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _measure(queries: int, rounds: int, sim_url: str) -> dict[str, Any]:
    import httpx

    from harmonia.app import create_app
    from harmonia.auth.tokens import mint_token
    from harmonia.settings import DEMO_CREDENTIALS, load_settings
    from harmonia.sources.declared import SHIPPED_DECLARATIONS

    sources: dict[str, Any] = {n: {"base_url": f"{sim_url}/{n}"}
                               for n in ("hubspot", "shopify", "mailchimp", "ga4", "googleads")}
    sources["klaviyo"] = {"base_url": f"{sim_url}/klaviyo", "api_key": DEMO_CREDENTIALS["klaviyo_api_key"]}
    sources["meta_ads"] = {"base_url": f"{sim_url}/meta_ads", "access_token": "x", "ad_account_id": "act_1"}
    secret = "bench-declared-secret-0123456789abcdef0123"
    settings = load_settings(sources=sources, sources_dir=str(SHIPPED_DECLARATIONS), auth={"jwt_secret": secret},
                             cache={"enabled": False, "responses": False},
                             limits={"budget_maximum": 10**12, "budget_restore_rate": 10**9},
                             observability={"operation_log": False})
    app = create_app(settings)
    token = mint_token(secret, roles=["marketer"], sub="bench", ttl=3600)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw",
                               headers={"Authorization": f"Bearer {token}"})
    samples: dict[str, list[float]] = {name: [] for name in QUERIES}
    try:
        for query in QUERIES.values():  # warm: connections, parse and plan caches
            for _ in range(5):
                body = (await client.post("/graphql", json={"query": query})).json()
                assert "errors" not in body, body
        for _ in range(rounds):
            for name, query in QUERIES.items():
                started = time.process_time()
                for _ in range(queries):
                    await client.post("/graphql", json={"query": query})
                samples[name].append((time.process_time() - started) / queries * 1000)
    finally:
        await client.aclose()
        await app.state.aclose()
    medians = {name: round(statistics.median(values), 3) for name, values in samples.items()}
    base = medians["base (HubSpot only)"]
    declared, built_in = medians["declared (Klaviyo)"], medians["built-in (Shopify)"]
    return {"cpu_ms_per_query": medians, "samples_ms": samples,
            "declared_vs_built_in": round(declared / built_in - 1, 4),
            "join_cpu_ms": {"declared": round(declared - base, 3), "built-in": round(built_in - base, 3)},
            "queries_per_round": queries, "rounds": rounds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    port = _free_port()
    sim = subprocess.Popen([sys.executable, "-m", "harmonia.cli", "simulate", "--port", str(port), "--no-rate-limits"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        result = asyncio.run(_measure(args.queries, args.rounds, f"http://127.0.0.1:{port}"))
    finally:
        sim.terminate()
        sim.wait(timeout=15)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "declared.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "samples_ms"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
