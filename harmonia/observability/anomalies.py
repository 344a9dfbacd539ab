"""An anomaly detector per source: latency, errors and quota burn against the source's own recent baseline.

    detector = AnomalyDetector(source_series(), AnomalyPolicy(), notify=webhook.post, headroom=quota_headroom)
    await detector.check()             # every few seconds (the app's lifespan runs it)
    detector.events()                  # newest first, for the catalogue: opened and resolved anomalies

Every ``check`` compares each source's last ``recent_seconds`` with the ``baseline_seconds`` before
them. Latency: the recent median above ``latency_factor`` times the baseline's and at least
``latency_floor_ms`` more. Errors: the recent error ratio (5xx, 429, timeouts, dropped connections)
above ``error_ratio`` and ``error_factor`` times the baseline's. Quota: the quota's headroom under
``quota_headroom`` while the baseline's call rate was under half the recent one (a burn that started
now, not a steady high use). Each needs ``min_calls`` calls in the recent window, a baseline of
enough calls, and calls recorded for the whole baseline window, so a quiet source or a process younger
than its baseline raises nothing. An anomaly is opened once, resolves when the signal is back within
bounds of the baseline it opened against (a source slow for longer than the baseline window is still
slow), and is posted (``notify``) at most once per source and kind per ``cooldown_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from harmonia.observability.metrics import record_anomaly
from harmonia.observability.source_series import SourceSeries

log = logging.getLogger("harmonia.observability")
KINDS = ("latency", "errors", "quota")


@dataclass(frozen=True, slots=True)
class AnomalyPolicy:
    recent_seconds: float = 30.0
    baseline_seconds: float = 600.0
    min_calls: int = 5
    min_baseline_calls: int = 20
    latency_factor: float = 3.0
    latency_floor_ms: float = 50.0
    error_ratio: float = 0.2
    error_factor: float = 3.0
    quota_headroom: float = 0.1
    cooldown_seconds: float = 900.0


@dataclass(frozen=True, slots=True)
class AnomalyEvent:
    source: str
    kind: str           # latency, errors, quota
    state: str          # OPEN or RESOLVED
    at: float           # epoch seconds
    message: str        # for people: what was seen against what is usual
    value: float
    baseline: float


Notify = Callable[[AnomalyEvent], Awaitable[bool]]
Headroom = Callable[[str], float | None]


class AnomalyDetector:
    def __init__(self, series: SourceSeries, policy: AnomalyPolicy | None = None, *, notify: Notify | None = None,
                 headroom: Headroom | None = None, clock: Callable[[], float] = time.time,
                 sources: Callable[[], list[str]] | None = None, keep: int = 200) -> None:
        self.series = series
        self.policy = policy or AnomalyPolicy()
        self.notify = notify
        self.headroom = headroom
        self.clock = clock
        self.sources = sources or series.sources
        self.open: dict[tuple[str, str], AnomalyEvent] = {}
        self.posted: dict[tuple[str, str], float] = {}   # (source, kind) -> when last posted
        self._events: deque[AnomalyEvent] = deque(maxlen=keep)

    def events(self, source: str | None = None) -> list[AnomalyEvent]:
        return [e for e in reversed(self._events) if source is None or e.source == source]

    async def check(self) -> list[AnomalyEvent]:
        """One look at every source; the events it opened or resolved."""
        now = self.clock()
        changed: list[AnomalyEvent] = []
        for source in self.sources():
            for kind, finding in self._findings(source, now).items():
                key = (source, kind)
                if finding is not None and key not in self.open:
                    event = AnomalyEvent(source, kind, "OPEN", now, *finding)
                    self.open[key] = event
                    changed.append(event)
                    record_anomaly(source, kind)
                    await self._post(event)
                elif finding is None and key in self.open:
                    was = self.open.pop(key)
                    changed.append(AnomalyEvent(source, kind, "RESOLVED", now, f"{source} {kind} back to usual",
                                                was.value, was.baseline))
        self._events.extend(changed)
        return changed

    async def _post(self, event: AnomalyEvent) -> None:
        key = (event.source, event.kind)
        last = self.posted.get(key)
        if self.notify is None or (last is not None and event.at - last < self.policy.cooldown_seconds):
            return
        self.posted[key] = event.at  # before sending: a slow webhook must not get two posts
        try:
            await self.notify(event)
        except Exception:  # a webhook down must never stop detection; its URL is a secret: not logged
            log.warning("anomaly webhook post failed for %s %s", event.source, event.kind)

    def _findings(self, source: str, now: float) -> dict[str, tuple[str, float, float] | None]:
        p = self.policy
        recent = self.series.window(source, p.recent_seconds, ending=now)
        base = self.series.window(source, p.baseline_seconds, ending=now - p.recent_seconds)
        first = self.series.first_slot(source)
        covered = first is not None and first <= now - p.recent_seconds - p.baseline_seconds
        enough = covered and recent.calls >= p.min_calls and base.calls >= p.min_baseline_calls

        def usual(kind: str, now_usual: float | None) -> float | None:
            # While an anomaly is open its baseline is the one it opened against: a source slow for
            # longer than the baseline window has not become "usual", it is still slow.
            was = self.open.get((source, kind))
            return was.baseline if was is not None else now_usual

        found: dict[str, tuple[str, float, float] | None] = dict.fromkeys(KINDS)
        base_p50 = usual("latency", base.p50)
        if enough and recent.p50 is not None and base_p50 is not None and \
                recent.p50 > p.latency_factor * base_p50 and (recent.p50 - base_p50) * 1000 >= p.latency_floor_ms:
            found["latency"] = (f"{source} answers in {recent.p50 * 1000:.0f} ms (median of the last "
                                f"{p.recent_seconds:.0f} s), usually {base_p50 * 1000:.0f} ms",
                                recent.p50, base_p50)
        base_errors = usual("errors", base.error_ratio) or 0.0
        if enough and recent.error_ratio > p.error_ratio and recent.error_ratio > p.error_factor * base_errors:
            found["errors"] = (f"{source} failed {recent.error_ratio:.0%} of calls in the last "
                               f"{p.recent_seconds:.0f} s, usually {base_errors:.0%}",
                               recent.error_ratio, base_errors)
        headroom = self.headroom(source) if self.headroom is not None else None
        base_rate = usual("quota", base.calls_per_second) or 0.0
        if enough and headroom is not None and headroom < p.quota_headroom and base_rate * 2 < recent.calls_per_second:
            found["quota"] = (f"{source} quota nearly spent ({headroom:.0%} left) at "
                              f"{recent.calls_per_second:.1f} calls/s, usually {base_rate:.1f}",
                              headroom, base_rate)
        return found
