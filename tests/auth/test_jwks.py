"""The JWKS cache against a real key server: rotation, rate-limited refreshes, and riding out an outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harmonia.app import create_app
from harmonia.auth.jwks import JwksKeys
from harmonia.errors import KeySetUnavailable
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorState
from tests.auth.conftest import JwksServer, SigningKey, rsa_key
from tests.conftest import SOURCES, gateway_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


AUDIENCE = "harmonia-api"  # a key set needs one: without it, any token of the issuer would do


def claims() -> dict[str, Any]:
    return {"sub": "ana", "roles": ["marketer"], "exp": int(time.time()) + 300, "aud": AUDIENCE}


@pytest.fixture
async def gateway_client(jwks_server: JwksServer, fast_sim_state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway on the key server, with a short TTL and refresh interval so the test need not wait 30 s."""
    settings = gateway_settings(auth={"jwks_url": jwks_server.url, "audience": AUDIENCE, "jwks_ttl_seconds": 0.5,
                                      "jwks_min_refresh_seconds": 0.2})
    sim = httpx.ASGITransport(app=create_simulator_app(state=fast_sim_state))
    app = create_app(settings, transports=dict.fromkeys(SOURCES, sim))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client
    await app.state.sources.aclose()
    await app.state.verifier.aclose()


async def _status(client: httpx.AsyncClient, token: str) -> int:
    response = await client.post("/graphql", json={"query": "{ __typename }"},
                                 headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def test_rotation_to_a_new_key_is_accepted_after_the_refresh(
    gateway_client: httpx.AsyncClient, jwks_server: JwksServer, first_key: SigningKey
) -> None:
    assert await _status(gateway_client, first_key.sign(claims())) == 200
    second = rsa_key("key-2")
    jwks_server.keys = [second]  # the issuer rotates: the old key is withdrawn, a new kid appears
    await asyncio.sleep(0.25)     # past the minimum refresh interval

    assert await _status(gateway_client, second.sign(claims())) == 200
    # The refreshed set no longer holds key-1; once the cache has moved on, its tokens stop working.
    assert await _status(gateway_client, first_key.sign(claims())) == 401


async def test_a_remembered_token_stops_working_once_its_key_is_withdrawn(
    gateway_client: httpx.AsyncClient, jwks_server: JwksServer, first_key: SigningKey
) -> None:
    token = first_key.sign(claims())
    assert await _status(gateway_client, token) == 200
    assert await _status(gateway_client, token) == 200  # remembered: no second signature check
    jwks_server.keys = [rsa_key("key-2")]  # the issuer withdraws key-1 (say, it leaked)
    await asyncio.sleep(0.6)  # past the TTL: the next use refreshes the set

    assert await _status(gateway_client, token) == 401


async def test_the_key_server_going_down_keeps_the_cached_keys_working(
    gateway_client: httpx.AsyncClient, jwks_server: JwksServer, first_key: SigningKey
) -> None:
    assert await _status(gateway_client, first_key.sign(claims())) == 200
    jwks_server.stop()
    await asyncio.sleep(0.6)  # past the TTL: the next request tries a refresh, which fails

    for _ in range(3):
        assert await _status(gateway_client, first_key.sign(claims())) == 200
    # An unknown key is still refused (no key to check it with), as a 401, not a 500.
    assert await _status(gateway_client, rsa_key("key-9").sign(claims())) == 401


async def test_unknown_kids_refresh_at_most_once_per_interval(jwks_server: JwksServer, first_key: SigningKey) -> None:
    clock = Clock()
    keys = JwksKeys(jwks_server.url, ttl=300, min_refresh_interval=30, clock=clock)
    try:
        assert await keys.key_for("key-1", "RS256") is not None
        assert jwks_server.fetches == 1
        assert await keys.key_for("made-up", "RS256") is None
        assert jwks_server.fetches == 1  # the set was fetched a moment ago: no refresh yet
        clock.now += 30
        for second in range(29):  # a flood of made-up kids within 30 s: one refresh, not 29
            assert await keys.key_for(f"made-up-{second}", "RS256") is None
            clock.now += 1
        assert jwks_server.fetches == 2
        clock.now += 1  # 30 s after that refresh: the next unknown kid may refresh again
        assert await keys.key_for("made-up-again", "RS256") is None
        assert jwks_server.fetches == 3
        # A kid we hold never costs a fetch.
        assert await keys.key_for("key-1", "RS256") is not None
        assert jwks_server.fetches == 3
    finally:
        await keys.aclose()


async def test_a_key_is_only_used_with_its_own_algorithm(jwks_server: JwksServer, first_key: SigningKey) -> None:
    keys = JwksKeys(jwks_server.url, clock=Clock())
    try:
        assert await keys.key_for("key-1", "RS256") is not None
        assert await keys.key_for("key-1", "ES256") is None
    finally:
        await keys.aclose()


async def test_concurrent_requests_share_one_fetch(jwks_server: JwksServer, first_key: SigningKey) -> None:
    keys = JwksKeys(jwks_server.url)
    try:
        found = await asyncio.gather(*(keys.key_for("key-1", "RS256") for _ in range(20)))
        assert all(k is not None for k in found)
        assert jwks_server.fetches == 1
    finally:
        await keys.aclose()


async def test_without_any_key_set_a_down_issuer_is_retried_after_1_2_4_seconds_up_to_the_interval(
        jwks_server: JwksServer, first_key: SigningKey) -> None:
    jwks_server.status = 503  # up, but failing: every attempt is counted
    clock = Clock()
    keys = JwksKeys(jwks_server.url, min_refresh_interval=5, clock=clock)
    waits: list[float] = []
    try:
        for _ in range(5):
            with pytest.raises(KeySetUnavailable) as refused:
                await keys.key_for("key-1", "RS256")
            with pytest.raises(KeySetUnavailable):
                await keys.key_for("key-1", "RS256")  # within the wait: no new attempt
            waits.append(refused.value.retry_after)
            clock.now += refused.value.retry_after
        assert waits == [1, 2, 4, 5, 5]
        assert jwks_server.fetches == 5
        jwks_server.status = 200
        assert await keys.key_for("key-1", "RS256") is not None
    finally:
        await keys.aclose()
