"""Shared fixtures: the seeded simulators in-process (ASGI) and connectors wired to them."""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from harmonia.auth.tokens import mint_token
from harmonia.settings import Settings, load_settings
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World, build_world

SIM_BASE = "http://simulators"
MODERN_ACCEPT = "application/graphql-response+json, application/json;q=0.9"
# The tests' own HS256 secret: `harmonia serve` has no default one, and refuses the old published demo secret.
TEST_JWT_SECRET = "harmonia-tests-only-secret-0123456789abcdef"
TEST_SECRET_ENV = {"HARMONIA_AUTH__JWT_SECRET": TEST_JWT_SECRET}  # for `harmonia serve` subprocesses

# --- full garbage collections between tests, never inside one ------------------------------------
# Tests leave gateways, apps and simulator states behind in reference cycles, so the collector's full
# passes grew long, and CPython ran them wherever an allocation tipped it over: inside tests. Measured
# over a whole run: 28 s of collection in 226 s, full passes up to 1.9 s, 14 over 0.6 s; a test that
# gave the Shopify simulator's bucket half a second failed in CI. So what is alive once the tests are
# collected is frozen (never traversed again), CPython's own full passes are off, and one runs after a
# test once 40 middle passes went by since the last (CPython considers one after 10; every 10 made the
# suite slower, 40 made it faster: 17.9 s of collection, none inside a test over 57 ms, 720 MB at peak).
FULL_PASS_AFTER = 40


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 2**30)  # a count CPython's full pass never reaches


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    outcome = yield
    if gc.get_count()[2] >= FULL_PASS_AFTER:
        gc.collect()
    return outcome


@pytest.fixture(scope="session")
def world() -> World:
    """The seeded world (seed 7); read-only: tests that mutate build their own."""
    return build_world(7)


@pytest.fixture
def sim_state(world: World) -> SimulatorState:
    return SimulatorState(SimulatorConfig(seed=7), world=world)


@pytest.fixture
def sim_app(sim_state: SimulatorState) -> FastAPI:
    return create_simulator_app(state=sim_state)


@pytest.fixture
def transport(sim_app: FastAPI) -> httpx.ASGITransport:
    """Connectors reach the simulators through this transport: real HTTP semantics, no sockets."""
    return httpx.ASGITransport(app=sim_app)


@pytest.fixture
async def sim_client(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client on the simulators, for wire-format tests."""
    async with httpx.AsyncClient(transport=transport, base_url=SIM_BASE) as client:
        yield client


# --- the gateway wired to the simulators -------------------------------------------------------

SOURCES = ("hubspot", "shopify", "mailchimp", "ga4", "googleads")


def gateway_settings(**overrides: Any) -> Settings:
    """Settings pointing every source at the in-process simulators, tokens signed with the tests' secret."""
    sources: dict[str, Any] = {name: {"base_url": f"{SIM_BASE}/{name}"} for name in SOURCES}
    for name, values in overrides.pop("sources", {}).items():
        sources[name].update(values)
    overrides["auth"] = {"jwt_secret": TEST_JWT_SECRET, **overrides.get("auth", {})}
    return load_settings(sources=sources, **overrides)


# Modules mint tokens at collection time (DPO = token_for(...)): a token must outlive the whole run, and
# CI allows 90 minutes. With 600 s the erasure-restart test, collected first and run last, was refused
# as expired once the suite passed ten minutes.
TOKEN_TTL = 4 * 3600


def token_for(*roles: str, sub: str = "tester", scopes: tuple[str, ...] | list[str] = ()) -> str:
    return mint_token(TEST_JWT_SECRET, roles=list(roles), sub=sub, scopes=scopes, ttl=TOKEN_TTL)


class Gateway:
    """A gateway app over the simulators, with a client and the simulators' request counters."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, sim: SimulatorState) -> None:
        self.app = app
        self.client = client
        self.sim = sim

    async def query(self, query: str, variables: dict[str, Any] | None = None, *, role: str = "admin",
                    token: str | None = None) -> dict[str, Any]:
        response = await self.post(query, variables, role=role, token=token)
        body: dict[str, Any] = response.json()
        return body

    async def post(self, query: str, variables: dict[str, Any] | None = None, *, role: str = "admin",
                   token: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or token_for(role)}", **(headers or {})}
        return await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)

    async def sim_stats(self) -> dict[str, Any]:
        """The simulators' own ``GET /__stats`` (the contract's view of upstream calls)."""
        sim = httpx.ASGITransport(app=create_simulator_app(state=self.sim))
        async with httpx.AsyncClient(transport=sim, base_url=SIM_BASE) as client:
            stats: dict[str, Any] = (await client.get("/__stats")).json()
            return stats

    def upstream_calls(self) -> dict[str, int]:
        return dict(self.sim.requests)

    def routes(self, source: str) -> dict[str, int]:
        return dict(self.sim.by_route[source])

    def log(self, source: str) -> list[dict[str, Any]]:
        return [r for r in self.sim.log if r["source"] == source]


@pytest.fixture
def fast_sim_state(world: World) -> SimulatorState:
    """Simulators without rate limits, for tests that count calls rather than pace them."""
    return SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)


@pytest.fixture
async def gateway(fast_sim_state: SimulatorState) -> AsyncIterator[Gateway]:
    async with gateway_over(fast_sim_state) as gw:
        yield gw


@asynccontextmanager
async def gateway_over(sim_state: SimulatorState, **overrides: Any) -> AsyncIterator[Gateway]:
    """A gateway over ``sim_state``'s simulators for a ``with`` block; ``overrides`` are settings
    (e.g. ``auth={...}``). The app's own lifespan runs: what starts with it (cache listeners, the
    erasure watcher, the policy store) stops with it."""
    gateway, close = await open_gateway(sim_state, **overrides)
    try:
        yield gateway
    finally:
        await close()


# --- a world the test may change (writes), and a gateway over it --------------------------------

@pytest.fixture
def writable_world(world: World) -> World:
    """The seeded world with its writable records copied, so writes never touch the shared one.

    Copies exactly what the simulators' write routes change (top-level keys of each record, and
    HubSpot's ``properties``); the read-only bulk (GA4 rows, daily Ads metrics, reports) is shared.
    """
    return dataclasses.replace(
        world,
        contacts=[{**c, "properties": dict(c["properties"])} for c in world.contacts],
        shopify_customers=[dict(c) for c in world.shopify_customers],
        orders=[dict(o) for o in world.orders],
        members={h: dict(m) for h, m in world.members.items()},
        campaigns=[dict(c) for c in world.campaigns],
        ads_campaigns=[dict(c) for c in world.ads_campaigns],
    )


@pytest.fixture
def writable_sim_state(writable_world: World) -> SimulatorState:
    return SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=writable_world)


async def open_gateway(sim: SimulatorState, **overrides: Any) -> tuple[Gateway, Any]:
    """A gateway app over ``sim`` (no sockets); returns it and a coroutine function that closes it."""
    from harmonia.app import create_app

    sim_transport = httpx.ASGITransport(app=create_simulator_app(state=sim))
    sources = overrides.pop("sources", {})
    app = create_app(gateway_settings(sources=sources, **overrides), transports=dict.fromkeys(SOURCES, sim_transport))
    # As today's GraphQL clients ask (Apollo Client, urql): the newer media type, with its 4xx statuses.
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                               headers={"Accept": MODERN_ACCEPT})
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()

    async def close() -> None:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)

    return Gateway(app, client, sim), close


@pytest.fixture
async def writable_gateway(writable_sim_state: SimulatorState) -> AsyncIterator[Gateway]:
    """A gateway over simulators whose state the test's mutations may change."""
    gateway, close = await open_gateway(writable_sim_state)
    yield gateway
    await close()


@pytest.fixture
def redis_url() -> str:
    """The throwaway real redis-server scripts/with-redis.sh started; a clear failure without it."""
    url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the tests through scripts/with-redis.sh (make test)")
    return url
