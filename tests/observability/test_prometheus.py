"""Adding up the workers' snapshots: counters and histograms add, gauges of gone workers drop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harmonia.observability.prometheus import WorkerBoard, merge, render, snapshot
from tests.observability.promtext import samples, value


def _snap(pid: int, ops: int, budget: float, circuit: int) -> dict[str, Any]:
    return {"pid": pid, "families": {
        "harmonia_operations": {"type": "counter", "help": "ops", "series": [[{"outcome": "OK"}, ops]]},
        "harmonia_operation_duration_seconds": {"type": "histogram", "help": "t", "bounds": [0.1, 1.0],
                                                "series": [[{}, [ops, 1, 0], 0.5 * ops, ops + 1]]},
        "harmonia_budget_available_points": {"type": "gauge", "help": "b", "series": [[{"client": "a"}, budget]]},
        "harmonia_circuit_open": {"type": "gauge", "help": "c", "series": [[{"circuit": "redis"}, circuit]]},
    }}


def test_counters_and_histograms_add_up_and_gauges_combine_across_workers() -> None:
    found = samples(render(merge([_snap(10, 3, 500.0, 0), _snap(11, 4, 200.0, 1)], alive={10, 11})))

    assert value(found, "harmonia_operations_total", outcome="OK") == 7
    assert value(found, "harmonia_operation_duration_seconds_bucket", le="0.1") == 7
    assert value(found, "harmonia_operation_duration_seconds_bucket", le="1.0") == 9
    assert value(found, "harmonia_operation_duration_seconds_bucket", le="+Inf") == 9
    assert value(found, "harmonia_operation_duration_seconds_sum") == 3.5
    assert value(found, "harmonia_budget_available_points", client="a") == 200, "the lowest budget"
    assert value(found, "harmonia_circuit_open", circuit="redis") == 1, "open anywhere is open"


def test_a_gone_workers_counts_stay_and_its_gauges_go() -> None:
    found = samples(render(merge([_snap(10, 3, 500.0, 0), _snap(11, 4, 200.0, 1)], alive={10})))

    assert value(found, "harmonia_operations_total") == 7, "totals never go backwards"
    assert value(found, "harmonia_budget_available_points") == 500
    assert value(found, "harmonia_circuit_open") == 0


def test_label_values_are_escaped() -> None:
    snap = {"pid": 1, "families": {"x": {"type": "counter", "help": "h",
                                         "series": [[{"operation": 'say "hi"\\\n'}, 1]]}}}
    assert 'x_total{operation="say \\"hi\\"\\\\\\n"} 1' in render(merge([snap]))


def test_the_board_gathers_other_workers_snapshots(tmp_path: Path) -> None:
    other = WorkerBoard(tmp_path)
    other.pid = 999_999_999  # no such process: its gauges are dropped, its counters kept
    other.publish(_snap(999_999_999, 5, 1.0, 1))
    mine = WorkerBoard(tmp_path)
    snaps, alive = mine.gather(_snap(os.getpid(), 2, 9.0, 0))

    assert alive == {os.getpid()}
    found = samples(render(merge(snaps, alive)))
    assert value(found, "harmonia_operations_total") == 7
    assert value(found, "harmonia_circuit_open") == 0
    assert not list(tmp_path.glob("*.tmp")), "snapshots are replaced atomically"


def test_histograms_kept_by_hand_render_with_prometheus_le_semantics() -> None:
    from harmonia.observability.metrics import _Histogram

    hist = _Histogram("harmonia_test_seconds", ("route",), (0.1, 1.0), "t")
    for seconds in (0.1, 0.3, 20.0):  # on a bound counts in that bucket (le: less than or equal)
        hist.record(seconds, ("/a",))
    hist.record(0.05, ("/b",))
    own = {"harmonia_test_seconds": hist.family()}
    found = samples(render(merge([snapshot(None, own)])))
    assert value(found, "harmonia_test_seconds_bucket", route="/a", le="0.1") == 1
    assert value(found, "harmonia_test_seconds_bucket", route="/a", le="1.0") == 2
    assert value(found, "harmonia_test_seconds_bucket", route="/a", le="+Inf") == 3
    assert value(found, "harmonia_test_seconds_count", route="/a") == 3
    assert value(found, "harmonia_test_seconds_sum", route="/a") == 20.4
    assert value(found, "harmonia_test_seconds_bucket", route="/b", le="0.1") == 1
