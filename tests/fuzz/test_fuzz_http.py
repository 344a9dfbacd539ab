"""Property-based fuzzing of the HTTP layer with schemathesis: it loads the schema by introspection
through the real ASGI app and sends generated requests for every root field. Never a 5xx, always a JSON
body with ``extensions.cost``, every error with a contract code. (schemathesis' own GraphQL check counts
any ``errors`` entry as a failure; a gateway must answer invalid input with coded errors, so the checks
here are the contract's.) ``HARMONIA_FUZZ_EXAMPLES`` bounds the examples (divided among the root fields).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from harmonia.app import create_app
from harmonia.errors import CONTRACT_CODES
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import build_world
from tests.conftest import SOURCES, gateway_settings, token_for

EXAMPLES = max(1, int(os.environ.get("HARMONIA_FUZZ_EXAMPLES", "150")) // 15)
AUTH = {"Authorization": f"Bearer {token_for('admin', sub='schemathesis')}"}

_sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=build_world(7))
_transport = httpx.ASGITransport(app=create_simulator_app(state=_sim))
app = create_app(gateway_settings(dev_mode=False, limits={"budget_maximum": 10**12, "budget_restore_rate": 10**9}),
                 transports=dict.fromkeys(SOURCES, _transport))


async def gateway(scope: Any, receive: Any, send: Any) -> None:
    """The app without its lifespan: schemathesis' client runs one per call, and its shutdown would close
    the sources for every later call (they hold only in-memory ASGI transports: nothing to release)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await app(scope, receive, send)


schema = schemathesis.graphql.from_asgi("/graphql", gateway, headers=AUTH)


COUNTS = {"requests": 0}


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    print(f"HTTP fuzzing: {COUNTS['requests']} requests")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_fail_the_server(case: schemathesis.Case) -> None:
    response = case.call(headers=AUTH)
    COUNTS["requests"] += 1
    assert response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body["extensions"]["cost"]["actualQueryCost"], int | float)
    for error in body.get("errors", ()):
        assert error["extensions"]["code"] in CONTRACT_CODES, error
        assert error["extensions"]["code"] != "INTERNAL", error
