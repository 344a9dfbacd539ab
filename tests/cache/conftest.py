"""Gateways with the entity cache on a real redis-server (``scripts/with-redis.sh`` starts one)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from fastapi import FastAPI

from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorState
from tests.conftest import MODERN_ACCEPT, SOURCES, Gateway, gateway_settings


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the suite under scripts/with-redis.sh (make test)")
    client = redis.Redis.from_url(url)
    await client.flushdb()  # every test starts from an empty shared tier
    await client.aclose()
    yield url


class CachedGateway(Gateway):
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, sim: SimulatorState, sim_app: FastAPI) -> None:
        super().__init__(app, client, sim)
        self.sim_app = sim_app

    async def fault(self, source: str, status: int = 503, seconds: float = 30) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.sim_app), base_url="http://sim") as c:
            response = await c.post("/__faults", json={"source": source, "status": status, "rate": 1.0,
                                                        "seconds": seconds})
            response.raise_for_status()

    async def clear_faults(self) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.sim_app), base_url="http://sim") as c:
            (await c.delete("/__faults")).raise_for_status()

    def reset_counts(self) -> None:
        self.sim.reset()

    def calls(self) -> dict[str, int]:
        return {source: n for source, n in self.upstream_calls().items() if n}


MakeGateway = Callable[..., Awaitable[CachedGateway]]


@pytest.fixture
async def make_gateway(fast_sim_state: SimulatorState, redis_url: str) -> AsyncIterator[MakeGateway]:
    """Gateways over one simulator state; each its own process-like app (own tier 1), Redis shared."""
    from harmonia.app import create_app

    made: list[tuple[AbstractAsyncContextManager[None], httpx.AsyncClient]] = []

    async def make(*, redis: bool = True, wrap: Callable[[Any], Any] | None = None,
                   **overrides: Any) -> CachedGateway:
        sim = create_simulator_app(state=fast_sim_state)
        upstream = wrap(sim) if wrap is not None else sim
        sources = overrides.pop("sources", {})
        overrides.setdefault("redis_url", redis_url if redis else None)
        # Budgets live in the shared Redis too: these tests measure the cache, not the client's budget.
        overrides.setdefault("limits", {"budget_maximum": 10**9, "budget_restore_rate": 10**9})
        settings = gateway_settings(sources=sources, **overrides)
        app = create_app(settings, transports=dict.fromkeys(SOURCES, httpx.ASGITransport(app=upstream)))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60,
                                   headers={"Accept": MODERN_ACCEPT})
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        made.append((lifespan, client))
        return CachedGateway(app, client, fast_sim_state, sim)

    yield make
    for lifespan, client in made:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
