"""The process's OpenTelemetry metrics: operations, upstream calls, cache outcomes, cost and circuits.

    record_operation("GetOrders", "OK", 0.012)
    record_upstream("shopify", "GET", "/admin/api/2024-04/orders.json", "200", 0.004)
    record_cache("hubspot", "memory", hits=3, misses=1)
    collect()      # the SDK's cumulative MetricsData, for /metrics (see prometheus.py)

One MeterProvider per process, built on first use, like a Prometheus registry: every app in the
process records into it. It always has an in-memory reader (rendered at ``/metrics``) and, when
``OTEL_METRICS_EXPORTER=otlp``, a periodic OTLP exporter as well.

Labels that clients control (operation names, client names from a token claim) are capped: past
``MAX_LABEL_VALUES`` distinct values, new ones are counted as ``other``, so a client cannot grow the
series without bound. The ``client`` label names no user by default (``metrics_clients.py``).
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader, MetricsData

# The bounds /metrics always had for operations; upstream calls are faster, so they start lower.
OPERATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UPSTREAM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_LABEL_VALUES = 200
# How series of one gauge from several workers combine (counters and histograms always add up).
GAUGE_MERGE = {"harmonia_budget_available_points": "min", "harmonia_circuit_open": "max",
               "harmonia_upstream_quota_headroom_ratio": "min", "harmonia_upstream_quota_allowance_per_second": "max"}


class QuotaGauge:
    """One quota of one source as /metrics shows it: its sustainable rate and live headroom (0..1)."""

    def __init__(self, allowance_per_second: float | None, headroom: Callable[[], float | None],
                 counts_requests: bool) -> None:
        self.allowance_per_second = allowance_per_second
        self.headroom = headroom
        self.counts_requests = counts_requests  # one unit per call (else the connector reports its units)


class _Capped:
    """Label values as they come, until there are too many distinct ones."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return "other"
        self.seen.add(value)
        return value


class _Tally:
    """Cumulative counts by label values, reported by an OpenTelemetry observable counter.

    Adding to a dict costs a fraction of a synchronous instrument's ``add`` (which builds and
    hashes an attribute set under a lock every time); the SDK reads the totals when it collects.
    """

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.counts: dict[tuple[str, ...], float] = {}

    def add(self, key: tuple[str, ...], n: float = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def observe(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, dict(zip(self.labels, key, strict=True))) for key, n in list(self.counts.items())]


class _Histogram:
    """Cumulative buckets by label values, kept by hand and rendered at ``/metrics`` with the rest.

    The SDK's ``Histogram.record`` costs about 15 us a call (an attribute set built and hashed, a
    measurement object, a lock): most of what a whole-response cache hit spends on metrics. Here it
    is a bisect and three additions. With an OTLP exporter configured, records also go to the SDK's
    instrument (which then, not this, feeds the in-memory reader too), so OTLP gets the histogram.
    """

    def __init__(self, name: str, labels: tuple[str, ...], bounds: tuple[float, ...], description: str,
                 instrument: Any = None) -> None:
        self.name = name
        self.labels = labels
        self.bounds = bounds
        self.description = description
        self.instrument = instrument
        self.series: dict[tuple[str, ...], list[Any]] = {}  # key -> [bucket counts, sum, count]

    def record(self, value: float, key: tuple[str, ...]) -> None:
        if self.instrument is not None:
            self.instrument.record(value, dict(zip(self.labels, key, strict=True)))
            return
        entry = self.series.get(key)
        if entry is None:
            entry = self.series[key] = [[0] * (len(self.bounds) + 1), 0.0, 0]
        entry[0][bisect_left(self.bounds, value)] += 1  # bucket i holds (bounds[i-1], bounds[i]]
        entry[1] += value
        entry[2] += 1

    def family(self) -> dict[str, Any] | None:
        """In prometheus.snapshot's form; None while nothing was recorded (or the SDK has it)."""
        if not self.series:
            return None
        return {"help": self.description, "type": "histogram", "bounds": list(self.bounds),
                "series": [[dict(zip(self.labels, key, strict=True)), list(counts), total, n]
                           for key, (counts, total, n) in list(self.series.items())]}


class Metrics:
    def __init__(self, readers: Iterable[MetricReader] = ()) -> None:
        readers = list(readers)
        self.reader = InMemoryMetricReader()
        # No exemplars: /metrics does not show them, and the default filter looks up the current
        # span on every histogram record.
        self.provider = MeterProvider(metric_readers=[self.reader, *readers], exemplar_filter=AlwaysOffExemplarFilter())
        self.circuits: dict[str, Callable[[], bool]] = {}
        self.operation_names = _Capped()
        self.clients = _Capped()
        m = self.provider.get_meter("harmonia")

        def counter(name: str, labels: tuple[str, ...], description: str) -> _Tally:
            tally = _Tally(labels)
            m.create_observable_counter(name, callbacks=[tally.observe], description=description)
            return tally

        self.operations = counter("harmonia_operations", ("operation", "outcome"),
                                  "GraphQL operations by name and outcome (error codes, or OK).")

        def histogram(name: str, labels: tuple[str, ...], bounds: tuple[float, ...], description: str) -> _Histogram:
            instrument = m.create_histogram(name, unit="s", description=description,
                                            explicit_bucket_boundaries_advisory=bounds) if readers else None
            made = _Histogram(name, labels, bounds, description, instrument)
            self.histograms.append(made)
            return made

        self.histograms: list[_Histogram] = []
        self.operation_seconds = histogram("harmonia_operation_duration_seconds", ("operation",), OPERATION_BUCKETS,
                                           "Time to answer a GraphQL operation.")
        self.upstream_requests = counter("harmonia_upstream_requests", ("source", "method", "route", "status"),
                                         "HTTP calls to the sources by source, route and status.")
        self.upstream_seconds = histogram("harmonia_upstream_duration_seconds", ("source", "route"), UPSTREAM_BUCKETS,
                                          "Time a source took to answer a call.")
        self.upstream_errors = counter("harmonia_upstream_errors", ("source", "method", "route", "error"),
                                       "Failed calls to the sources (status >= 400, timeouts, transport errors) "
                                       "by source, route and error.")
        self.cache_lookups = counter("harmonia_cache_lookups", ("source", "tier", "outcome"),
                                     "Entity cache lookups by source, tier and outcome (hit, miss, stale: "
                                     "served past its TTL).")
        self.cost_rejections = counter("harmonia_cost_rejections", ("reason",),
                                       "Operations refused before running, by reason (COST_LIMIT_EXCEEDED, "
                                       "DEPTH_LIMIT_EXCEEDED, THROTTLED, ...).")
        self.cost_points = counter("harmonia_cost_points", ("client",),
                                   "Cost points spent, by client (see observability.metrics_clients).")
        self.credential_renewals = counter("harmonia_credential_renewals", ("source", "grant", "outcome"),
                                           "Access token renewals by source, grant and outcome (renewed; adopted: "
                                           "another instance had renewed; refused; failed).")
        self.budget: dict[str, float] = {}
        m.create_observable_gauge("harmonia_budget_available_points", callbacks=[self._observe_budget],
                                  description="Points left in the cost budget of the last caller under this "
                                              "client label, after its operation.")
        m.create_observable_gauge("harmonia_circuit_open", callbacks=[self._observe_circuits],
                                  description="1 while a circuit is open (the dependency is being skipped).")
        self.anomalies = counter("harmonia_anomalies", ("source", "kind"),
                                 "Anomalies the in-process detector opened, by source and kind (latency, errors, "
                                 "quota).")
        self.quotas: dict[tuple[str, str], QuotaGauge] = {}
        self.request_quotas: dict[str, list[str]] = {}
        self.quota_consumed = counter("harmonia_upstream_quota_consumed", ("source", "quota"),
                                      "Units of each source quota Harmonia consumed (calls, or GA4 tokens).")
        m.create_observable_gauge("harmonia_upstream_quota_headroom_ratio", callbacks=[self._observe_headroom],
                                  description="Share of each source quota left (0..1), as the source or Harmonia's "
                                              "pacer last knew it.")
        m.create_observable_gauge("harmonia_upstream_quota_allowance_per_second", callbacks=[self._observe_allowance],
                                  description="Units per second each source quota allows on average: the "
                                              "denominator of its burn rate.")

    def _observe_budget(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(level, {"client": client}) for client, level in list(self.budget.items())]

    def _observe_circuits(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(1 if is_open() else 0, {"circuit": name}) for name, is_open in self.circuits.items()]

    def _observe_headroom(self, _: CallbackOptions) -> Iterable[Observation]:
        found = []
        for (source, quota), gauge in list(self.quotas.items()):
            value = gauge.headroom()
            if value is not None:
                found.append(Observation(max(0.0, min(1.0, value)), {"source": source, "quota": quota}))
        return found

    def _observe_allowance(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(g.allowance_per_second, {"source": source, "quota": quota})
                for (source, quota), g in list(self.quotas.items()) if g.allowance_per_second]

    def collect(self) -> MetricsData | None:
        return self.reader.get_metrics_data()

    def own_families(self) -> dict[str, Any]:
        """The histograms kept by hand, in prometheus.snapshot's form."""
        return {h.name: family for h in self.histograms if (family := h.family()) is not None}


_lock = threading.Lock()
_metrics: Metrics | None = None


def _otlp_readers() -> list[MetricReader]:
    if os.environ.get("OTEL_METRICS_EXPORTER", "none").strip().lower() != "otlp":
        return []
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    return [PeriodicExportingMetricReader(OTLPMetricExporter())]


def metrics() -> Metrics:
    """The process's metrics, built on first use."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = Metrics(_otlp_readers())
    return _metrics


def collect() -> MetricsData | None:
    return metrics().collect()


def own_families() -> dict[str, Any]:
    return metrics().own_families()


def record_operation(name: str, outcome: str, seconds: float) -> None:
    m = _metrics or metrics()
    operation = m.operation_names(name)
    m.operations.add((operation, outcome))
    m.operation_seconds.record(seconds, (operation,))


def record_cost(client: str, *, actual: int, available: float | None, rejected: Iterable[str] = ()) -> None:
    m = _metrics or metrics()
    label = m.clients(client)
    if actual:
        m.cost_points.add((label,), actual)
    if available is not None:
        m.budget[label] = available
    for reason in rejected:
        m.cost_rejections.add((reason,))


def record_upstream(source: str, method: str, route: str, status: str, seconds: float, error: str | None) -> None:
    m = _metrics or metrics()
    m.upstream_requests.add((source, method, route, status))
    if error not in ("timeout", "transport"):  # the call reached the source: it counts against its quota
        for quota in m.request_quotas.get(source, ()):
            m.quota_consumed.add((source, quota))
    m.upstream_seconds.record(seconds, (source, route))
    if error is not None:
        m.upstream_errors.add((source, method, route, error))


def record_cache(source: str, tier: str, *, hits: int = 0, misses: int = 0, stale: int = 0) -> None:
    tally = (_metrics or metrics()).cache_lookups
    if hits:
        tally.add((source, tier, "hit"), hits)
    if misses:
        tally.add((source, tier, "miss"), misses)
    if stale:
        tally.add((source, tier, "stale"), stale)


def record_anomaly(source: str, kind: str) -> None:
    (_metrics or metrics()).anomalies.add((source, kind))


def register_quota(source: str, quota: str, *, allowance_per_second: float | None,
                   headroom: Callable[[], float | None], counts_requests: bool) -> None:
    """Publish a source quota: ``harmonia_upstream_quota_{headroom_ratio,allowance_per_second,consumed_total}``."""
    m = metrics()
    m.quotas[(source, quota)] = QuotaGauge(allowance_per_second, headroom, counts_requests)
    requests = m.request_quotas.setdefault(source, [])
    if counts_requests and quota not in requests:
        requests.append(quota)


def record_quota_units(source: str, quota: str, units: float) -> None:
    """Units of a quota consumed that are not calls (GA4's tokens), as the source reported them."""
    if units > 0:
        (_metrics or metrics()).quota_consumed.add((source, quota), units)


def record_renewal(source: str, grant: str, outcome: str) -> None:
    (_metrics or metrics()).credential_renewals.add((source, grant, outcome))


def register_circuit(name: str, is_open: Callable[[], bool]) -> None:
    """Report a circuit's state as ``harmonia_circuit_open{circuit=name}`` (read at every collection)."""
    metrics().circuits[name] = is_open


