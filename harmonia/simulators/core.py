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

SOURCES = ("hubspot", "shopify", "mailchimp", "ga4", "googleads", "meta_ads", "klaviyo")
ErrorRenderer = Callable[[int, str], Response]


@dataclass
class SimulatorConfig:
    seed: int = 7
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0  # each request waits latency_ms plus up to this much more, at random
    rate_limits: bool = True
    credentials: dict[str, str] = field(default_factory=lambda: dict(DEMO_CREDENTIALS))
    # GA4's property token quotas (Standard property); tests shrink them to reach exhaustion quickly.
    ga4_tokens_per_hour: int = 40_000
    ga4_tokens_per_day: int = 200_000
    ga4_tokens_per_project_per_hour: int = 14_000
    ga4_concurrent_requests: int = 10  # Standard; 50 on Analytics 360
    # Lifetime of every access token the simulated token endpoints issue; None: each vendor's own.
    token_lifetime_seconds: float | None = None
    # Shopify's GraphQL Admin API: the cost bucket (upstreams.md: the fakes' 2000 points, 100 restored a
    # second), the HTTP status of a THROTTLED answer (disputed: 200 or 429), the app's scopes (without
    # read_all_orders only the last 60 days of orders exist, counted back from shopify_now, default: the
    # newest order), and how long customerRequestDataErasure takes to redact.
    shopify_maximum_available: float = 2000.0
    shopify_restore_rate: float = 100.0
    shopify_throttle_status: int = 200
    shopify_read_all_orders: bool = True
    shopify_orders_window_days: int = 60
    shopify_now: str | None = None
    shopify_erasure_delay_s: float = 0.0
    # Readings upstreams.md leaves open, for clients that must work under either: an answer without
    # extensions.cost, and Shopify pricing queries above (or below) its published rules.
    shopify_report_cost: bool = True
    shopify_cost_factor: float = 1.0
    # Fields the shop's schema lacks ("Order.email"), as a shop on another version or a stricter copy would.
    shopify_hidden_fields: tuple[str, ...] = ()

    def shopify_scopes(self) -> list[str]:
        scopes = ["read_customers", "write_customers", "read_orders"]
        return [*scopes, "read_all_orders"] if self.shopify_read_all_orders else scopes


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
        # A SaaS module's own figures for /__stats (Shopify: calls by GraphQL operation and error code).
        self.extra_stats: dict[str, Callable[[], dict[str, Any]]] = {}
        # Named counters such figures are kept in; /__reset zeroes them with the rest.
        self.counters: dict[str, Counter[str]] = {}

    def reset(self) -> None:
        for source in SOURCES:
            self.requests[source] = 0
            self.by_route[source].clear()
            self.statuses[source].clear()
        for counter in self.counters.values():
            counter.clear()
        self.log.clear()

    def counter(self, name: str) -> Counter[str]:
        return self.counters.setdefault(name, Counter())

    def stats(self) -> dict[str, Any]:
        return {s: {"requests": self.requests[s], "by_route": dict(self.by_route[s]),
                    "statuses": dict(self.statuses[s]), **(self.extra_stats[s]() if s in self.extra_stats else {})}
                for s in SOURCES}

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
            if self.config.latency_jitter_ms > 0:
                delay += self.rng.uniform(0.0, self.config.latency_jitter_ms)
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
