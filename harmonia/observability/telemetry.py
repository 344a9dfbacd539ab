"""Everything observability for one app: tracing setup, the operation scope, /metrics, field usage.

    telemetry = Telemetry(settings)                 # in create_app
    with telemetry.operation(request.headers) as op: ...
    telemetry.render_metrics()                      # GET /metrics
    await telemetry.start(); ...; await telemetry.aclose()   # the app's lifespan

With ``HARMONIA_METRICS_DIR`` set (``harmonia serve --workers N`` sets it), each worker publishes
its metrics there every ``observability.metrics_publish_seconds`` and ``/metrics`` adds up every
worker's (see prometheus.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from harmonia.observability import tracing
from harmonia.observability.metrics import collect, metrics, own_families, register_circuit
from harmonia.observability.metrics_clients import MetricsClients
from harmonia.observability.operation import OperationScope
from harmonia.observability.oplog import OperationLog
from harmonia.observability.prometheus import WorkerBoard, merge, render, snapshot
from harmonia.observability.usage import FieldUsage
from harmonia.observability.usage_clients import UsageNames
from harmonia.settings import Settings
from harmonia.shared_state import RedisTarget

METRICS_DIR_ENV = "HARMONIA_METRICS_DIR"
log = logging.getLogger("harmonia.observability")


class Telemetry:
    def __init__(self, settings: Settings) -> None:
        obs = self.settings = settings.observability
        if tracing.installed() is None:
            tracing.install(tracing.provider_from_env())
        self.usage = FieldUsage(RedisTarget.from_settings(settings), prefix=obs.field_usage_key_prefix,
                                retention_days=obs.field_usage_retention_days) if obs.field_usage else None
        self.usage_names = UsageNames(max_clients=obs.usage_max_clients, known=obs.usage_clients)
        self.oplog = OperationLog() if obs.operation_log else None
        self.metrics_clients = MetricsClients.from_settings(settings)
        directory = os.environ.get(METRICS_DIR_ENV)
        self.board = WorkerBoard(directory) if directory else None
        self._tasks: list[asyncio.Task[None]] = []
        self._circuits: list[str] = []
        self.sources_watch: Any = None  # the app's SourceWatch (resolvers layer), for the catalogue

    def watch_circuit(self, name: str, is_open: Callable[[], bool]) -> None:
        """Report a circuit as ``harmonia_circuit_open{circuit=name}`` while this app runs."""
        register_circuit(name, is_open)
        self._circuits.append(name)

    def operation(self, headers: Mapping[str, str]) -> OperationScope:
        return OperationScope(self, headers)

    def render_metrics(self) -> str:
        own = snapshot(collect(), own_families())
        if self.board is None:
            return render(merge([own]))
        snaps, alive = self.board.gather(own)
        families = merge(snaps, alive)
        families["harmonia_metrics_workers"] = {
            "type": "gauge", "help": "Gateway worker processes whose metrics this scrape adds up.",
            "series": {(): len(alive)}}
        return render(families)

    def publish_metrics(self) -> None:
        if self.board is not None:
            self.board.publish(snapshot(collect(), own_families()))

    async def start(self) -> None:
        if self.board is not None:
            self.publish_metrics()  # the others count this worker from the start
            self._every(self.settings.metrics_publish_seconds, self._publish_async)
        if self.usage is not None:
            self._every(self.settings.field_usage_flush_seconds, self.usage.flush)

    async def _publish_async(self) -> None:
        self.publish_metrics()

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception:  # a background job must not die of one failure
                    log.exception("observability background job failed")

        self._tasks.append(asyncio.ensure_future(loop()))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for name in self._circuits:
            metrics().circuits.pop(name, None)
        if self.usage is not None:
            await self.usage.aclose()
        with contextlib.suppress(OSError):
            self.publish_metrics()
        provider = tracing.installed()
        if provider is not None:
            provider.force_flush(2000)
