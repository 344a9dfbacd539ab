"""Credentials against the simulated token endpoints (ASGI), with or without the test Redis."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from fastapi import FastAPI

from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.oauth import DEMO_OAUTH
from tests.conftest import SIM_BASE

LIFETIME = 3.0


@pytest.fixture
def token_sim(world: Any) -> SimulatorState:
    """Simulators whose token endpoints issue 3-second access tokens."""
    return SimulatorState(SimulatorConfig(seed=7, rate_limits=False, token_lifetime_seconds=LIFETIME), world=world)


@pytest.fixture
def token_app(token_sim: SimulatorState) -> FastAPI:
    return create_simulator_app(state=token_sim)


@pytest.fixture
def sim_transport(token_app: FastAPI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=token_app)


@pytest.fixture
async def control(sim_transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the simulators' root: ``/__oauth`` and the APIs."""
    async with httpx.AsyncClient(transport=sim_transport, base_url=SIM_BASE) as client:
        yield client


@pytest.fixture
async def key_file(control: httpx.AsyncClient, tmp_path: Path) -> Path:
    """The simulators' service-account key file, as a Google console download."""
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps((await control.get("/__oauth/service-account.json")).json()))
    return path


@pytest.fixture
async def credential_redis() -> AsyncIterator[redis.Redis]:
    url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the tests through scripts/with-redis.sh (make test)")
    client = redis.Redis.from_url(url)
    await forget_credentials(client)
    yield client
    await forget_credentials(client)
    await client.aclose()


async def forget_credentials(client: redis.Redis) -> None:
    keys = [key async for key in client.scan_iter(match="harmonia:credential:*")]
    if keys:
        await client.delete(*keys)


def oauth_settings(issuer: str, **overrides: Any) -> dict[str, Any]:
    """The demo client of ``issuer`` as ``sources.<s>.oauth`` settings."""
    demo = DEMO_OAUTH[issuer]
    values = {"client_id": demo["client_id"], "client_secret": demo["client_secret"],
              "refresh_token": demo["refresh_token"]}
    if issuer == "google":
        values["token_url"] = f"{SIM_BASE}/google/token"
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


async def token_requests(control: httpx.AsyncClient, issuer: str) -> dict[str, int]:
    stats: dict[str, Any] = (await control.get("/__oauth")).json()
    requests: dict[str, int] = stats["token_requests"][issuer]
    return requests
