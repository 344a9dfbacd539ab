"""The last hour of each source's calls in 5-second slots: calls, errors and latency, for charts and baselines.

    series = source_series()                       # the process's, fed by every upstream call
    series.record("shopify", 0.012, error=False)   # observability.upstream does this
    series.window("shopify", seconds=60)           # Window(calls=120, errors=1, p50=0.011, p99=0.05, ...)
    series.points("shopify", step=60)              # one point per minute over the hour, for a chart

Latency is kept as a sparse log-scale histogram per slot (buckets 12% apart, 0.1 ms to 100 s), so a
quantile is within a few percent and a slot costs a few dict entries whatever the traffic. Per
process: with several workers each shows its own share (``/metrics`` adds them up for Prometheus).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

SLOT_SECONDS = 5
SLOTS = 720 + 1          # an hour, plus the slot being filled
_RATIO = 1.12
_LOG_RATIO = math.log(_RATIO)
_FLOOR = 1e-4


def _bucket(seconds: float) -> int:
    return max(0, int(math.log(max(seconds, _FLOOR) / _FLOOR) / _LOG_RATIO))


def _upper(bucket: int) -> float:
    return _FLOOR * _RATIO ** (bucket + 1)


@dataclass(slots=True)
class _Slot:
    start: int
    calls: int = 0
    errors: int = 0
    latency: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Window:
    """A source's calls over some seconds: counts, error ratio and latency quantiles (None: no calls)."""

    seconds: float
    calls: int
    errors: int
    p50: float | None
    p99: float | None

    @property
    def error_ratio(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Point:
    at: float                # epoch seconds, start of the step
    calls: int
    errors: int
    p50: float | None
    p99: float | None


def _quantile(histogram: dict[int, int], q: float) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return _upper(bucket)
    return _upper(max(histogram))


class SourceSeries:
    def __init__(self, clock: object = time.time) -> None:
        self.clock = clock
        self._slots: dict[str, deque[_Slot]] = {}
        self._lock = threading.Lock()  # record may come from any thread; reads copy under it

    def _now(self) -> float:
        return self.clock()  # type: ignore[operator, no-any-return]

    def record(self, source: str, seconds: float, *, error: bool) -> None:
        start = int(self._now() // SLOT_SECONDS) * SLOT_SECONDS
        with self._lock:
            slots = self._slots.get(source)
            if slots is None:
                slots = self._slots[source] = deque(maxlen=SLOTS)
            if not slots or slots[-1].start != start:
                slots.append(_Slot(start))
            slot = slots[-1]
            slot.calls += 1
            if error:
                slot.errors += 1
            b = _bucket(seconds)
            slot.latency[b] = slot.latency.get(b, 0) + 1

    def first_slot(self, source: str) -> float | None:
        """Start of the oldest slot kept for ``source`` (None: no call yet): how much history there is."""
        with self._lock:
            slots = self._slots.get(source)
            return float(slots[0].start) if slots else None

    def sources(self) -> list[str]:
        with self._lock:
            return sorted(self._slots)

    def _between(self, source: str, start: float, end: float) -> list[_Slot]:
        with self._lock:
            return [s for s in self._slots.get(source, ()) if start <= s.start < end]

    def window(self, source: str, seconds: float, *, ending: float | None = None) -> Window:
        """The ``seconds`` before ``ending`` (default now, the slot being filled included)."""
        end = (self._now() // SLOT_SECONDS + 1) * SLOT_SECONDS if ending is None else ending
        slots = self._between(source, end - seconds, end)
        histogram: dict[int, int] = {}
        for s in slots:
            for b, n in s.latency.items():
                histogram[b] = histogram.get(b, 0) + n
        return Window(seconds, sum(s.calls for s in slots), sum(s.errors for s in slots),
                      _quantile(histogram, 0.5), _quantile(histogram, 0.99))

    def points(self, source: str, *, step: int = 60, span: int = 3600) -> list[Point]:
        """One point per ``step`` seconds over the last ``span`` seconds, oldest first (empty steps: 0 calls)."""
        now = self._now()
        last = int(now // step) * step
        found = []
        for at in range(last - span + step, last + step, step):
            w = self.window(source, step, ending=at + step)
            found.append(Point(at, w.calls, w.errors, w.p50, w.p99))
        return found


_series: SourceSeries | None = None


def source_series() -> SourceSeries:
    """The process's series, built on first use."""
    global _series
    if _series is None:
        _series = SourceSeries()
    return _series
