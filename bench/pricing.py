"""What pricing costs: microseconds to plan, price and limit-check one operation (no I/O).

    python -m bench.pricing                 # prints µs per operation, writes bench/results/pricing.json

"cold": ``harmonia.limits.check.check_operation`` (plan, the five limit rules, static cost,
upstream estimate) on an already parsed and validated document, as the pipeline does the first
time it sees an operation with given variables; "warm": the same through ``CostMeter.check``,
whose cache answers a repeated operation. Best of several rounds, so the figure is the code's
cost rather than the machine's noise.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from pathlib import Path

from graphql import get_introspection_query, parse

from bench.run import WORKLOADS
from harmonia.auth.principal import Principal
from harmonia.limits.check import check_operation
from harmonia.limits.meter import CostMeter
from harmonia.limits.plan import select_operation
from harmonia.limits.pricing import CostModel
from harmonia.limits.role_limits import limits_for
from harmonia.schema import build_schema
from harmonia.settings import load_settings

RESULTS = Path(__file__).resolve().parent / "results" / "pricing.json"


def best_micros(call: Callable[[], object], number: int = 2000) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def main() -> None:
    schema = build_schema()._schema
    settings = load_settings()
    meter = CostMeter.from_settings(schema, settings)
    principal = Principal("bench", frozenset({"admin"}))
    limits, model = limits_for(settings.limits), CostModel.from_settings(settings.limits)
    queries = {f"({key}) {title}": text % {"customer_id": "Q3VzdG9tZXI6MQ=="} if "%(" in text else text
               for key, (title, text) in WORKLOADS.items()}
    queries["GraphiQL's introspection query"] = get_introspection_query(descriptions=True)
    figures: dict[str, dict[str, float]] = {}
    for title, query in queries.items():
        document = parse(query)
        operation = select_operation(document, None)
        assert operation is not None
        pricing = check_operation(schema, document, operation, {}, limits, model)
        assert not pricing.errors, pricing.errors
        cold = best_micros(lambda: check_operation(schema, document, operation, {}, limits, model))  # noqa: B023
        warm = best_micros(lambda: meter.check(document, operation, {}, principal, query))  # noqa: B023
        figures[title] = {"cold_us": round(cold, 1), "warm_us": round(warm, 1), "cost": pricing.cost}
        print(f"cold {cold:7.1f} µs  warm {warm:5.1f} µs  cost {pricing.cost:>5}  {title}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
