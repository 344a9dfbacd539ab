"""The Redis topologies of ``make test`` (scripts/with-redis.sh starts them), as gateway settings."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from harmonia.settings import load_settings
from harmonia.shared_state import ADMIN, RedisTarget, open_client

TOPOLOGIES = ("cluster", "tls", "sentinel")


def topology_settings(name: str) -> dict[str, Any]:
    raw = os.environ.get(f"HARMONIA_TEST_REDIS_{name.upper()}")
    if not raw:
        pytest.fail(f"HARMONIA_TEST_REDIS_{name.upper()} is not set: run the tests through scripts/with-redis.sh "
                    "(make test), which starts a Redis Cluster, a TLS server and a Sentinel pair")
    settings: dict[str, Any] = json.loads(raw)
    return settings


async def flush(settings: dict[str, Any]) -> None:
    """Empty every master of the topology."""
    target = RedisTarget.from_settings(load_settings(**settings))
    assert target is not None
    client = open_client(target, ADMIN)
    try:
        if target.mode == "cluster":
            await client.flushall(target_nodes="primaries")  # type: ignore[call-arg]
        else:
            await client.flushall()
    finally:
        await client.aclose()


@pytest.fixture(params=TOPOLOGIES)
async def topology(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """Settings that put a gateway on one topology, emptied before the test."""
    settings = topology_settings(request.param)
    await flush(settings)
    yield settings
