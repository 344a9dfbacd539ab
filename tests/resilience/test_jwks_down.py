"""The token issuer's key set (JWKS) going down, as a fault like the SaaS ones: the gateway on a real
key server on 127.0.0.1 that stops (connections refused) or answers 503.

- Keys already fetched: valid tokens keep answering, an unknown kid is a 401 with its challenge.
- Started while the issuer is down: a valid token cannot be checked yet, so 503 with Retry-After
  and UPSTREAM_UNAVAILABLE (not a 401 that would send the user to log in again); plainly bad tokens
  stay 401; once the key server is back, a client honouring Retry-After gets in with the same token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harmonia.simulators.core import SimulatorState
from tests.auth.conftest import JwksServer, SigningKey, rsa_key
from tests.conftest import Gateway, gateway_over

QUERY = "{ customers(first: 2) { edges { node { email } } } }"
# Words of the libraries underneath: none may reach a client.
LEAKS = ("httpx", "jwt", "Connect", "refused", "Traceback", "HTTPStatusError", "PyJWK", "127.0.0.1")


AUDIENCE = "harmonia-api"  # a key set needs one: without it, any token of the issuer would do


def claims(ttl: int = 300, **extra: Any) -> dict[str, Any]:
    return {"sub": "ana", "roles": ["marketer"], "exp": int(time.time()) + ttl, "aud": AUDIENCE, **extra}


@pytest.fixture(scope="module")
def issuer_key() -> SigningKey:
    return rsa_key("issuer-1")


@pytest.fixture
def key_server(issuer_key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer([issuer_key])
    server.start()
    yield server
    server.stop()


def take_down(server: JwksServer, how: str) -> None:
    if how == "refused":
        server.stop()
    else:
        server.status = 503


def bring_back(server: JwksServer, how: str) -> None:
    if how == "refused":
        server.start()  # the same port: the gateway's configured URL works again
    else:
        server.status = 200


async def ask(gateway: Gateway, token: str) -> httpx.Response:
    response = await gateway.client.post("/graphql", json={"query": QUERY},
                                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500 or response.status_code == 503, response.text
    assert not any(word in response.text for word in LEAKS), response.text
    return response


def answered(response: httpx.Response) -> bool:
    body = response.json()
    return response.status_code == 200 and "errors" not in body and len(body["data"]["customers"]["edges"]) == 2


def refused_as_unauthenticated(response: httpx.Response) -> bool:
    challenge = response.headers.get("www-authenticate", "")
    return (response.status_code == 401 and challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
            and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED")


@pytest.mark.parametrize("how", ["refused", "503"])
async def test_cached_keys_keep_answering_while_the_key_server_is_down(
        fast_sim_state: SimulatorState, key_server: JwksServer, issuer_key: SigningKey, how: str) -> None:
    auth = {"jwks_url": key_server.url, "audience": AUDIENCE, "jwks_ttl_seconds": 0.5, "jwks_min_refresh_seconds": 0.2}
    async with gateway_over(fast_sim_state, auth=auth) as gateway:
        remembered = issuer_key.sign(claims())
        assert answered(await ask(gateway, remembered))
        take_down(key_server, how)
        await asyncio.sleep(0.6)  # past the TTL: every use from now on tries a refresh, which fails

        fresh_tokens = [issuer_key.sign(claims(jti=str(i))) for i in range(3)]  # never verified before
        outcomes = [await ask(gateway, t) for t in [remembered, *fresh_tokens]]
        stranger = await ask(gateway, rsa_key("not-the-issuers").sign(claims()))

    assert all(answered(r) for r in outcomes), [r.text for r in outcomes]
    assert refused_as_unauthenticated(stranger), (stranger.status_code, stranger.headers, stranger.text)


@pytest.mark.parametrize("how", ["refused", "503"])
async def test_a_gateway_started_while_the_key_server_is_down_asks_to_retry_then_lets_the_token_in(
        fast_sim_state: SimulatorState, key_server: JwksServer, issuer_key: SigningKey, how: str) -> None:
    take_down(key_server, how)
    token = issuer_key.sign(claims())
    # The default refresh interval (30 s): a cold gateway must not wait that long to try again.
    async with gateway_over(fast_sim_state, auth={"jwks_url": key_server.url, "audience": AUDIENCE}) as gateway:
        first = await ask(gateway, token)
        together = await asyncio.gather(*(ask(gateway, issuer_key.sign(claims(jti=str(i)))) for i in range(5)))
        expired = await ask(gateway, issuer_key.sign(claims(ttl=-3600)))
        garbage = await ask(gateway, "not.a.token")
        bring_back(key_server, how)
        await asyncio.sleep(int(first.headers["Retry-After"]))  # what a well-behaved client does
        after = await ask(gateway, token)
        again = await ask(gateway, token)

    for response in (first, *together):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/graphql-response+json")
        assert 1 <= int(response.headers["Retry-After"]) <= 30
        assert "www-authenticate" not in response.headers  # not a login problem
        body = response.json()
        assert "data" not in body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert error["extensions"]["retryAfterSeconds"] == int(response.headers["Retry-After"])
        assert set(body["extensions"]["cost"]) >= {"requestedQueryCost", "actualQueryCost", "throttleStatus"}
    assert refused_as_unauthenticated(expired), expired.text  # no key could make it good
    assert refused_as_unauthenticated(garbage), garbage.text
    assert answered(after), after.text  # recovered: the same token, now checked against the fetched set
    assert answered(again)
