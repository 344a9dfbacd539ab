"""Property-based fuzzing of the schema: operations generated from the SDL (hypothesis-graphql), valid
and invalid, sent through the whole gateway to the simulators. Never a 5xx; every error carries a
contract code; every response carries ``extensions.cost``.

The suite runs a modest number of examples (``HARMONIA_FUZZ_EXAMPLES``, 150 by default) so ``make test``
stays quick; the 10,000-operation run is the same test with ``HARMONIA_FUZZ_EXAMPLES=5000`` (each
example sends one valid and one invalid operation).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from harmonia.errors import CONTRACT_CODES
from harmonia.schema import build_schema
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import build_world
from tests.conftest import SOURCES, gateway_settings, token_for

EXAMPLES = int(os.environ.get("HARMONIA_FUZZ_EXAMPLES", "150"))
SDL = str(build_schema())
COUNTS: dict[str, int] = {"operations": 0}


class Fuzzed:
    """A gateway over in-process simulators, driven from synchronous hypothesis tests."""

    def __init__(self) -> None:
        from harmonia.app import create_app

        self.runner = asyncio.Runner()
        sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=build_world(7))
        transport = httpx.ASGITransport(app=create_simulator_app(state=sim))
        # Budgets out of the way: the cost *limits* still apply, the per-client throttle is not under test.
        settings_ = gateway_settings(dev_mode=False, limits={"budget_maximum": 10**12, "budget_restore_rate": 10**9})
        self.app = create_app(settings_, transports=dict.fromkeys(SOURCES, transport))
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gw",
                                        headers={"Authorization": f"Bearer {token_for('admin')}"})

    def post(self, body: Any) -> httpx.Response:
        return self.runner.run(self.client.post("/graphql", json=body))

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.run(self.app.state.aclose())
        self.runner.close()


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    gateway = Fuzzed()
    yield gateway
    gateway.close()
    print(f"schema fuzzing: {COUNTS['operations']} operations")


def check(response: httpx.Response) -> None:
    COUNTS["operations"] += 1
    assert response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body["extensions"]["cost"]["requestedQueryCost"], int | float)
    for error in body.get("errors", ()):
        assert error["extensions"]["code"] in CONTRACT_CODES, error
        assert error["extensions"]["code"] != "INTERNAL", error


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid=from_schema(SDL, mode=Mode.POSITIVE), invalid=from_schema(SDL, mode=Mode.NEGATIVE),
       variables=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5),
                                                        max_size=2)))
def test_generated_operations_never_fail_the_server(fuzzed: Fuzzed, valid: str, invalid: str,
                                                    variables: dict[str, Any] | None) -> None:
    check(fuzzed.post({"query": valid}))
    check(fuzzed.post({"query": invalid, "variables": variables}))
