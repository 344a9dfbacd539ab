"""OpenTelemetry metrics as Prometheus text, added up across the uvicorn workers of one server.

    text = render(merge([snapshot(collect(), own_families())]))  # one process
    board = WorkerBoard("/tmp/harmonia-metrics")                  # several workers share a directory
    board.publish(snapshot(collect(), own_families()))            # each worker, every second
    text = render(merge(board.gather(snapshot(collect(), own_families()))))  # the worker scraped

Workers are separate processes, and a scrape reaches one of them. Each worker writes its own
cumulative snapshot (JSON, atomically replaced) into a directory the ``serve`` command creates;
the worker answering ``/metrics`` adds its live figures to the others' latest snapshots. Counters
and histograms add up, and keep a worker's counts after it exits (totals never go backwards);
gauges of workers that are gone are dropped and the rest combine by ``GAUGE_MERGE`` (max
otherwise). Another worker's figures are at most one publish interval old.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.metrics.export import Gauge, Histogram, MetricsData, Sum

from harmonia.observability.metrics import GAUGE_MERGE

Labels = tuple[tuple[str, str], ...]
# family name -> {"type", "help", "bounds"?, "series": {labels: value | [buckets, sum, count]}}
Families = dict[str, dict[str, Any]]


def snapshot(data: MetricsData | None, own: dict[str, Any] | None = None) -> dict[str, Any]:
    """This process's cumulative figures in a JSON-able form: the SDK's, and ``own`` families kept by hand
    (metrics.own_families(): the histograms)."""
    families: dict[str, Any] = dict(own or {})
    for rm in data.resource_metrics if data is not None else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                d = metric.data
                series: list[Any] = []
                family: dict[str, Any] = {"help": metric.description, "series": series}
                if isinstance(d, Histogram):
                    family["type"] = "histogram"
                    for hp in d.data_points:
                        family["bounds"] = list(hp.explicit_bounds)
                        series.append([dict(hp.attributes or {}), list(hp.bucket_counts), hp.sum, hp.count])
                elif isinstance(d, Sum | Gauge):
                    family["type"] = "counter" if isinstance(d, Sum) and d.is_monotonic else "gauge"
                    series.extend([dict(p.attributes or {}), p.value] for p in d.data_points)
                else:
                    continue
                families[metric.name] = family
    return {"pid": os.getpid(), "families": families}


def _key(labels: dict[str, Any]) -> Labels:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def merge(snapshots: list[dict[str, Any]], alive: set[int] | None = None) -> Families:
    """One family per metric name, its series added up (gauges: only ``alive`` workers', combined)."""
    out: Families = {}
    for snap in snapshots:
        gone = alive is not None and snap.get("pid") not in alive
        for name, fam in snap.get("families", {}).items():
            kind = fam.get("type")
            if kind == "gauge" and gone:
                continue
            target = out.setdefault(name, {"type": kind, "help": fam.get("help", ""), "series": {}})
            if "bounds" in fam:
                target["bounds"] = fam["bounds"]
            series: dict[Labels, Any] = target["series"]
            for entry in fam.get("series", ()):
                key = _key(entry[0])
                if kind == "histogram":
                    buckets, total, count = entry[1], entry[2], entry[3]
                    if key in series:
                        old = series[key]
                        series[key] = [[a + b for a, b in zip(old[0], buckets, strict=True)],
                                       old[1] + total, old[2] + count]
                    else:
                        series[key] = [list(buckets), total, count]
                elif kind == "gauge" and key in series:
                    pick = min if GAUGE_MERGE.get(name) == "min" else max
                    series[key] = pick(series[key], entry[1])
                else:
                    series[key] = series.get(key, 0) + entry[1]
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(key: Labels, extra: tuple[str, str] | None = None) -> str:
    pairs = [*key, extra] if extra else list(key)
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value) if isinstance(value, float) else str(value)


def render(families: Families) -> str:
    """Prometheus text format 0.0.4; counters get the ``_total`` suffix."""
    lines: list[str] = []
    for name in sorted(families):
        fam = families[name]
        kind = fam["type"]
        shown = f"{name}_total" if kind == "counter" else name
        lines.append(f"# HELP {shown} {fam['help']}".rstrip())
        lines.append(f"# TYPE {shown} {kind}")
        for key, value in sorted(fam["series"].items()):
            if kind != "histogram":
                lines.append(f"{shown}{_labels(key)} {_number(value)}")
                continue
            buckets, total, count = value
            running = 0
            for bound, n in zip(fam.get("bounds", []), buckets, strict=False):
                running += n
                lines.append(f"{name}_bucket{_labels(key, ('le', _number(float(bound))))} {running}")
            lines.append(f"{name}_bucket{_labels(key, ('le', '+Inf'))} {count}")
            lines.append(f"{name}_sum{_labels(key)} {_number(float(total))}")
            lines.append(f"{name}_count{_labels(key)} {count}")
    return "\n".join(lines) + "\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerBoard:
    """The directory where a server's workers leave their snapshots for each other."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.pid = os.getpid()

    def publish(self, snap: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"worker-{self.pid}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(snap))
        os.replace(tmp, path)  # readers see the old snapshot or the new one, never half of one

    def gather(self, own: dict[str, Any]) -> tuple[list[dict[str, Any]], set[int]]:
        """Every worker's snapshot (this one's live) and the pids still running."""
        snaps = [own]
        for path in sorted(self.directory.glob("worker-*.json")):
            with contextlib.suppress(OSError, ValueError):
                snap = orjson.loads(path.read_bytes())
                if snap.get("pid") != self.pid:
                    snaps.append(snap)
        alive = {s["pid"] for s in snaps if isinstance(s.get("pid"), int) and _alive(s["pid"])}
        return snaps, alive
