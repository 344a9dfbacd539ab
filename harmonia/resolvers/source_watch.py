"""Watching the sources while the gateway runs: circuit states, the anomaly detector and its webhook.

    watch = SourceWatch(sources, settings)     # in create_app; publishes quotas and circuits on /metrics
    await watch.start(); ...; await watch.aclose()
    await watch.descriptions()                 # [SourceDescription], for the catalogue
    watch.detector.events()                    # anomalies, newest first
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from harmonia.observability.anomalies import AnomalyDetector, AnomalyPolicy
from harmonia.observability.source_series import source_series
from harmonia.observability.webhook import Webhook
from harmonia.settings import Settings, SourceSettings
from harmonia.sources.describe import SourceDescription, describe, publish, quota_view

log = logging.getLogger("harmonia.sources")
CIRCUIT_REFRESH_SECONDS = 2.0


class SourceWatch:
    def __init__(self, sources: Any, settings: Settings,
                 webhook_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.sources = sources
        self.settings = settings
        self.states: dict[str, str] = {}
        a = settings.alerts
        self.webhook = Webhook(a.webhook_url, gateway=a.gateway_name, transport=webhook_transport) \
            if a.webhook_url else None
        policy = AnomalyPolicy(recent_seconds=a.recent_seconds, baseline_seconds=a.baseline_seconds,
                               min_calls=a.min_calls, latency_factor=a.latency_factor,
                               latency_floor_ms=a.latency_floor_ms, error_ratio=a.error_ratio,
                               quota_headroom=a.quota_headroom, cooldown_seconds=a.cooldown_seconds)
        self.detector = AnomalyDetector(source_series(), policy, notify=self.webhook.post if self.webhook else None,
                                        headroom=self._headroom, sources=lambda: [n for n, _, _ in self._all()])
        publish(sources.items(), settings, self.states)
        self._tasks: list[asyncio.Task[None]] = []

    def _all(self) -> list[tuple[str, Any, SourceSettings | None]]:
        """Every source applied now: a built-in one with its settings, a declared one with None (its
        declaration describes it; the set may change while the gateway runs)."""
        found: list[tuple[str, Any, SourceSettings | None]] = []
        for name, connector in self.sources.items():
            settings = getattr(self.settings.sources, name, None)
            found.append((name, connector, settings if isinstance(settings, SourceSettings) else None))
        return found

    def _headroom(self, name: str) -> float | None:
        for found, connector, settings in self._all():
            if found == name:
                view = quota_view(name, connector, settings)
                return view.headroom if view is not None else None
        return None

    async def refresh(self) -> None:
        for name, connector, _ in self._all():
            circuit = getattr(connector.http, "circuit", None)
            if circuit is not None:
                self.states[name] = await circuit.state()

    async def descriptions(self) -> list[SourceDescription]:
        return [await describe(name, connector, settings) for name, connector, settings in self._all()]

    async def start(self) -> None:
        self._every(CIRCUIT_REFRESH_SECONDS, self.refresh)
        if self.settings.alerts.enabled:
            self._every(self.settings.alerts.check_seconds, self._check)

    async def _check(self) -> None:
        await self.detector.check()

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception:  # a watcher must not die of one failure
                    log.exception("source watch job failed")

        self._tasks.append(asyncio.ensure_future(loop()))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.webhook is not None:
            await self.webhook.aclose()
