"""What field authorization costs: the nested query as an analyst under the demo policy vs under no policy.

    python -m bench.policy_overhead --rounds 3 --duration 10        # writes bench/results/policy_overhead.json
    python -m bench.policy_overhead --cache warm     # answers from the entity cache: enforcement weighs more

"No policy" is bench/policies/allow_all.yaml (every field readable in clear, nothing planned away or masked);
the demo policy masks the analyst's 50 emails per query. Rounds alternate between the two so that drift on
a shared machine hits both; the figures are the medians. On a busy shared machine wrk's figures drift by
more than the difference measured, so the enforcement's own CPU is also timed in process: planning the
operation (once per document, role set and policy version) and applying the plan to a real result (every
query), against the gateway's whole CPU per query.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VARIANTS = {"demo policy": None, "no policy": str(ROOT / "bench" / "policies" / "allow_all.yaml")}


def enforcement_cpu(workload: str, role: str, repeat: int = 200) -> dict[str, float]:
    """Microseconds of CPU to plan the query and to apply the plan to one real result, in this process."""
    import asyncio
    import copy

    import httpx
    from graphql import parse

    from bench.run import WORKLOADS
    from harmonia.app import create_app
    from harmonia.auth.policy_file import DEMO_POLICY
    from harmonia.auth.tokens import mint_token
    from harmonia.limits.plan import select_operation
    from harmonia.schema.authorize import authorize
    from harmonia.settings import load_settings
    from harmonia.simulators.app import create_simulator_app
    from harmonia.simulators.core import SimulatorConfig

    query = WORKLOADS[workload][1]
    sim = httpx.ASGITransport(app=create_simulator_app(SimulatorConfig(seed=7, rate_limits=False)))
    sources = {n: {"base_url": f"http://sim/{n}"} for n in ("hubspot", "shopify", "mailchimp", "ga4", "googleads")}
    secret = secrets.token_urlsafe(48)  # the gateway has no default key
    app = create_app(load_settings(sources=sources, auth={"jwt_secret": secret}),
                     transports=dict.fromkeys(sources, sim))
    token = mint_token(secret, roles=["admin"], sub="bench", ttl=600)

    async def raw() -> dict[str, object]:
        async with app.router.lifespan_context(app), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            body = (await client.post("/graphql", json={"query": query},
                                      headers={"Authorization": f"Bearer {token}"})).json()
        data: dict[str, object] = body["data"]
        return data

    data = asyncio.run(raw())  # what execution hands the plan: unmasked
    document = parse(query)
    operation = select_operation(document, None)
    assert operation is not None
    schema = app.state.pipeline.schema
    access = DEMO_POLICY.access_for(frozenset({role}))
    started = time.process_time()
    for _ in range(repeat):
        plan = authorize(schema, document, operation, access)
    plan_us = (time.process_time() - started) / repeat * 1e6
    copies = [copy.deepcopy(data) for _ in range(repeat)]
    started = time.process_time()
    for each in copies:
        plan.apply(each)
    apply_us = (time.process_time() - started) / repeat * 1e6
    return {"plan_us_once_per_document": round(plan_us, 1), "apply_us_per_query": round(apply_us, 1),
            "masked_values_per_query": sum(1 for _ in str(copies[0]).split("***@")) - 1}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workload", default="d")
    parser.add_argument("--role", default="analyst")
    parser.add_argument("--cache", default="cold", choices=["cold", "warm"],
                        help="cold: entity cache off, every query upstream (as first measured); warm: from the cache")
    args = parser.parse_args()
    in_process = enforcement_cpu(args.workload, args.role)
    print(json.dumps({"in_process": in_process}), flush=True)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, policy in VARIANTS.items():
            out = f"policy_overhead_{name.replace(' ', '_')}.json"
            command = [sys.executable, "-m", "bench.run", "--workloads", args.workload, "--duration",
                       str(args.duration), "--cache", args.cache, "--role", args.role, "--results", out]
            if policy:
                command += ["--policy-file", policy]
            subprocess.run(command, cwd=ROOT, check=True)
            figures = json.loads((RESULTS / out).read_text())["workloads"][f"{args.workload}-{args.cache}"]
            runs[name].append(figures)
            (RESULTS / out).unlink()
    summary = {}
    for name, figures in runs.items():
        summary[name] = {
            "rps": round(statistics.median(f["rps"] for f in figures), 1),
            "p50_ms": round(statistics.median(f["p50_ms"] for f in figures), 1),
            "gateway_cpu_ms_per_query": round(statistics.median(f["gateway_cpu_ms_per_query"] for f in figures), 2),
            "rps_each_round": [f["rps"] for f in figures],
        }
    demo, none = summary["demo policy"], summary["no policy"]
    overhead = {"rps_percent": round(100 * (none["rps"] - demo["rps"]) / none["rps"], 1),
                "cpu_percent": round(100 * (demo["gateway_cpu_ms_per_query"] - none["gateway_cpu_ms_per_query"])
                                     / none["gateway_cpu_ms_per_query"], 1)}
    overhead["enforcement_cpu_percent_of_demo_query"] = round(
        100 * in_process["apply_us_per_query"] / 1000 / demo["gateway_cpu_ms_per_query"], 2)
    result = {"workload": args.workload, "cache": args.cache, "role": args.role, "rounds": args.rounds,
              "duration_s": args.duration,
              "variants": summary, "overhead": overhead, "in_process": in_process}
    (RESULTS / "policy_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
