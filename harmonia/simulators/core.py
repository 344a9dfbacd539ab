"""What every SaaS simulator shares: the seeded world, request counting, latency and faults.

Each SaaS module builds an ``APIRouter`` with ``state.tracked(source)`` as a router dependency;
that dependency counts the request under its route template (``/__stats``), logs it
(``/__requests``), waits the configured latency and raises an injected fault (``/__faults``),
which the module's own error renderer turns into that API's error body.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.data import World, build_world

SOURCES = ("hubspot", "shopify", "mailchimp", "ga4", "googleads")
ErrorRenderer = Callable[[int, str], Response]


@dataclass
class SimulatorConfig:
    seed: int = 7
    latency_ms: float = 0.0
    rate_limits: bool = True
    credentials: dict[str, str] = field(default_factory=lambda: dict(DEMO_CREDENTIALS))
    # GA4's property token quotas (Standard property); tests shrink them to reach exhaustion quickly.
    ga4_tokens_per_hour: int = 40_000
    ga4_tokens_per_day: int = 200_000
    ga4_tokens_per_project_per_hour: int = 14_000


FAULT_KINDS = ("status", "reset", "timeout")


@dataclass
class Fault:
    """``status``: answer ``status`` (>= 400) at ``rate``, after ``latency_ms`` more latency (a spike
    alone when ``status`` < 400); ``reset``: drop the connection mid-answer; ``timeout``: hang until
    the fault ends (each at ``rate``)."""

    status: int
    rate: float
    latency_ms: float
    until: float
    kind: str = "status"


class InjectedFault(Exception):
    def __init__(self, source: str, status: int) -> None:
        super().__init__(f"injected {status} on {source}")
        self.source = source
        self.status = status


class InjectedReset(Exception):
    """Drop the connection: the app starts an answer and dies, so a real server closes the socket."""

    def __init__(self, source: str) -> None:
        super().__init__(f"injected reset on {source}")
        self.source = source


class SimulatorState:
    """Shared by the five simulators of one process."""

    def __init__(self, config: SimulatorConfig, world: World | None = None) -> None:
        self.config = config
        self.world = world if world is not None else build_world(config.seed)
        self.requests: dict[str, int] = dict.fromkeys(SOURCES, 0)
        self.by_route: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
        # Statuses answered per source ("429": N): how a load test proves the gateway kept under quota.
        self.statuses: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
        self.log: deque[dict[str, Any]] = deque(maxlen=20000)
        self.faults: dict[str, Fault] = {}
        self.error_renderers: dict[str, ErrorRenderer] = {}
        self.rng = random.Random(config.seed)
        # Per-SaaS mutable throttle state lives with the module that owns it.
        self.throttles: dict[str, Any] = {}

    def reset(self) -> None:
        for source in SOURCES:
            self.requests[source] = 0
            self.by_route[source].clear()
            self.statuses[source].clear()
        self.log.clear()

    def stats(self) -> dict[str, Any]:
        return {s: {"requests": self.requests[s], "by_route": dict(self.by_route[s]),
                    "statuses": dict(self.statuses[s])} for s in SOURCES}

    def tracked(self, source: str) -> Callable[[Request], Awaitable[None]]:
        """A router dependency: count, log, delay and maybe fail every request to ``source``."""
        prefix = f"/{source}"

        async def track(request: Request) -> None:
            route = request.scope.get("route")
            template = getattr(route, "path", request.url.path)
            if template.startswith(prefix):
                template = template[len(prefix):]
            key = f"{request.method} {template}"
            self.requests[source] += 1
            self.by_route[source][key] += 1
            body: Any = None
            if request.method in ("POST", "PUT", "PATCH"):
                raw = await request.body()
                body = raw.decode("utf-8", "replace") if raw else None
            self.log.append({
                "source": source, "method": request.method, "route": template,
                "path": request.url.path[len(prefix):], "query": str(request.url.query), "body": body,
                "traceparent": request.headers.get("traceparent"), "cookie": request.headers.get("cookie"),
            })
            delay = self.config.latency_ms
            fault = self.faults.get(source)
            if fault is not None and time.monotonic() >= fault.until:
                del self.faults[source]
                fault = None
            if fault is not None:
                delay += fault.latency_ms
            if delay > 0:
                await asyncio.sleep(delay / 1000.0)
            if fault is None or self.rng.random() >= fault.rate:
                return
            if fault.kind == "timeout":
                # Bounded by the fault's own end (at most a minute): a hung upstream, never a hung test.
                await asyncio.sleep(max(0.0, min(60.0, fault.until - time.monotonic())))
                raise InjectedFault(source, 504)
            if fault.kind == "reset":
                raise InjectedReset(source)
            if fault.status >= 400:
                raise InjectedFault(source, fault.status)

        return track

    def render_error(self, source: str, status: int, message: str) -> Response:
        return self.error_renderers[source](status, message)
