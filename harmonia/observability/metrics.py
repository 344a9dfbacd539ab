"""Process metrics in Prometheus text: operations by outcome and their latency.

    metrics.operation("OK", 0.012)
    metrics.render()   # text for GET /metrics
"""

from __future__ import annotations

from collections import Counter

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.total_seconds = 0.0

    def operation(self, outcome: str, seconds: float) -> None:
        self.operations[outcome] += 1
        self.count += 1
        self.total_seconds += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1

    def render(self) -> str:
        lines = ["# HELP harmonia_operations_total GraphQL operations by outcome (error codes, or OK).",
                 "# TYPE harmonia_operations_total counter"]
        for outcome, n in sorted(self.operations.items()):
            lines.append(f'harmonia_operations_total{{outcome="{outcome}"}} {n}')
        lines += ["# HELP harmonia_operation_duration_seconds Time to answer a GraphQL operation.",
                  "# TYPE harmonia_operation_duration_seconds histogram"]
        for bound, n in zip(BUCKETS, self.buckets, strict=True):
            lines.append(f'harmonia_operation_duration_seconds_bucket{{le="{bound}"}} {n}')
        lines.append(f'harmonia_operation_duration_seconds_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"harmonia_operation_duration_seconds_sum {self.total_seconds}")
        lines.append(f"harmonia_operation_duration_seconds_count {self.count}")
        return "\n".join(lines) + "\n"
