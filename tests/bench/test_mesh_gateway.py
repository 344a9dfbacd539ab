"""The Mesh comparison's arithmetic and bookkeeping: ratio direction, CPU of a process tree, pinned npm set."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

from bench import mesh_gateway


def test_ratios_read_harmonia_over_mesh() -> None:
    harmonia = {"rps": 300.0, "p50_ms": 50.0, "p99_ms": 200.0}
    mesh = {"rps": 200.0, "p50_ms": 100.0, "p99_ms": 100.0}
    assert mesh_gateway.ratios(harmonia, mesh) == {"rps": 1.5, "p50_ms": 0.5, "p99_ms": 2.0}


def test_ratio_of_a_missing_figure_is_nan_not_a_crash() -> None:
    ratio = mesh_gateway.ratios({"rps": 10.0, "p50_ms": 5.0, "p99_ms": float("nan")},
                                {"rps": 0.0, "p50_ms": 5.0, "p99_ms": 7.0})
    assert math.isnan(ratio["rps"]) and math.isnan(ratio["p99_ms"]) and ratio["p50_ms"] == 1.0


def test_summary_prints_one_ratio_line_per_harmonia_b_variant() -> None:
    mesh = {"versions": {"@graphql-hive/gateway": "9.9.9"}, "rps": 100.0, "p50_ms": 10.0, "p99_ms": 20.0,
            "gateway_cpu_ms_per_query": 6.0, "upstream_calls_one_query": {"shopify": 1, "hubspot": 1},
            "non_2xx": 0, "harmonia_over_mesh": {"b": {"rps": 1.5, "p50_ms": 0.8, "p99_ms": 0.9},
                                                  "b_warm": {"rps": 6.0, "p50_ms": 0.1, "p99_ms": 0.2}}}
    lines = mesh_gateway.summary(mesh)
    assert "Mesh 9.9.9" in lines[0] and "100.0 req/s" in lines[0]
    assert lines[1].startswith("(b) Harmonia ÷ Mesh: req/s 1.50x") and lines[2].startswith("(b_warm)")


def test_customers_found_counts_orders_and_matched_customers() -> None:
    answer = {"data": {"orders": {"nodes": [{"crmCustomer": {"email": "a@x"}}, {"crmCustomer": None}, {}]}}}
    assert mesh_gateway.customers_found(answer) == (3, 1)


def test_cpu_of_a_process_tree_counts_a_busy_grandchild() -> None:
    # A parent that idles while its own child spins: the CPU is the grandchild's, which must be seen.
    spin = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}])"])
    try:
        deadline = time.monotonic() + 10
        while not mesh_gateway.descendants(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = mesh_gateway.descendants(parent.pid)
        before = mesh_gateway.process_cpu_seconds(child)
        time.sleep(0.5)
        assert mesh_gateway.process_cpu_seconds(child) > before
        assert mesh_gateway.process_cpu_seconds(parent.pid) < 0.5  # the parent itself only waits
    finally:
        for pid in mesh_gateway.descendants(parent.pid):
            subprocess.run(["kill", str(pid)], check=False)
        parent.wait(timeout=10)
    assert mesh_gateway.process_cpu_seconds(parent.pid) == 0.0  # gone: nothing to read, no error


def test_npm_set_is_pinned_and_locked() -> None:
    """`npm ci` from a fresh clone installs exactly what was measured: exact versions, lock in sync."""
    manifest = json.loads((mesh_gateway.MESH_DIR / "package.json").read_text())
    lock = json.loads((mesh_gateway.MESH_DIR / "package-lock.json").read_text())
    wanted = manifest["dependencies"]
    assert set(mesh_gateway.PACKAGES) <= set(wanted)
    assert all(version[0].isdigit() for version in wanted.values()), wanted
    assert lock["packages"][""]["dependencies"] == wanted
    for name, version in wanted.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
