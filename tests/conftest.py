"""Shared fixtures: the seeded simulators in-process (ASGI) and connectors wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World, build_world

SIM_BASE = "http://simulators"


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
