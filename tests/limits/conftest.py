"""Fixtures for the limits: a gateway with chosen limits, and the real Redis of ``make test``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorState
from tests.conftest import MODERN_ACCEPT, SOURCES, Gateway, gateway_settings

GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the tests through `make test` "
                    "(or `bash scripts/with-redis.sh python -m pytest ...`), which starts a real redis-server")
    return url


@pytest.fixture
def make_gateway(fast_sim_state: SimulatorState) -> GatewayFactory:
    """``async with make_gateway(limits={...}, redis_url=...) as gw``: the gateway over the simulators."""

    @asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[Gateway]:
        from harmonia.app import create_app

        sim_transport = httpx.ASGITransport(app=create_simulator_app(state=fast_sim_state))
        settings = gateway_settings(**overrides)
        app = create_app(settings, transports=dict.fromkeys(SOURCES, sim_transport))
        # The app's lifespan closes all it opened (meter, cache, Redis clients, connectors).
        async with app.router.lifespan_context(app), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                  headers={"Accept": MODERN_ACCEPT}) as client:
            yield Gateway(app, client, fast_sim_state)

    return build


async def simulator_stats(gateway: Gateway) -> dict[str, Any]:
    """The simulators' own ``GET /__stats``, as an operator would read it."""
    transport = httpx.ASGITransport(app=create_simulator_app(state=gateway.sim))
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators") as client:
        stats: dict[str, Any] = (await client.get("/__stats")).json()
    return stats


async def upstream_requests(gateway: Gateway) -> int:
    return sum(source["requests"] for source in (await simulator_stats(gateway)).values())
