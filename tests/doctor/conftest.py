"""The doctor is checked against the same 3-second-token simulators as the credentials, with the
simulators' rate limits on: their headers are what the doctor reports as quota headroom."""

from typing import Any

import pytest

from harmonia.simulators.core import SimulatorConfig, SimulatorState
from tests.credentials.conftest import (  # noqa: F401 - fixtures, shared by name
    LIFETIME,
    control,
    credential_redis,
    key_file,
    sim_transport,
    token_app,
)


@pytest.fixture
def token_sim(world: Any) -> SimulatorState:
    return SimulatorState(SimulatorConfig(seed=7, token_lifetime_seconds=LIFETIME), world=world)
