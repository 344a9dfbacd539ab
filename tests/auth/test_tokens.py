"""Bearer tokens at the HTTP edge: every bad token is a 401 with an RFC 6750 challenge and our own words."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from harmonia.app import create_app
from harmonia.auth import tokens
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorState
from tests.auth.conftest import JwksServer, SigningKey, ec_key, rsa_key
from tests.conftest import SOURCES, TEST_JWT_SECRET, gateway_settings

ISSUER = "https://issuer.test/"
AUDIENCE = "harmonia-api"
QUERY = {"query": "{ customers(first: 1) { edges { node { id } } } }"}
OUR_MESSAGES = {tokens.EXPIRED, tokens.NOT_YET_VALID, tokens.INVALID, tokens.BAD_SIGNATURE, tokens.WRONG_ISSUER,
                tokens.WRONG_AUDIENCE, tokens.MISSING_CLAIM, tokens.BAD_CLAIMS, "A bearer token is required"}


@dataclass
class Edge:
    """A gateway in one token mode and what it takes to sign for it."""

    client: httpx.AsyncClient
    mode: str
    sign: Callable[[dict[str, Any]], str]     # correctly signed, for this gateway
    key: SigningKey | None
    sim: SimulatorState

    async def post(self, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return await self.client.post("/graphql", json=QUERY, headers=headers)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "ana", "roles": ["admin"], "scope": "", "iat": now, "exp": now + 300,
                            "iss": ISSUER, "aud": AUDIENCE}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with(secret: bytes, payload: dict[str, Any], **header: Any) -> str:
    """HS256 by hand: pyjwt rightly refuses to use a PEM public key as an HMAC secret, an attacker would not."""
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', **header}).encode())}." \
                    f"{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _bad_tokens(edge: Edge) -> dict[str, str | None]:
    now = int(time.time())
    if edge.key is not None:
        impostor = rsa_key(edge.key.kid)  # same kid, different key: the signature cannot verify
        wrong_signature = impostor.sign(claims())
    else:
        wrong_signature = jwt.encode(claims(), "another-secret-that-is-long-enough-for-hs256", "HS256")
    cases: dict[str, str | None] = {
        "none": None,
        "garbage": "garbage",
        "expired": edge.sign(claims(exp=now - 120, iat=now - 600)),
        "not yet valid": edge.sign(claims(nbf=now + 120)),
        "wrong signature": wrong_signature,
        "alg none": jwt.encode(claims(), None, algorithm="none"),
        "wrong issuer": edge.sign(claims(iss="https://elsewhere.test/")),
        "wrong audience": edge.sign(claims(aud="someone-else")),
        "missing exp": edge.sign(claims(exp=None)),
        "missing sub": edge.sign(claims(sub=None)),
    }
    if edge.key is not None:
        public_pem = edge.key.private.public_key().public_bytes(  # type: ignore[union-attr]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        cases["HS256 signed with the RS256 public key"] = hs256_with(public_pem, claims(), kid=edge.key.kid)
    return cases


def _library_text(edge: Edge, token: str) -> str | None:
    """What pyjwt itself says about the token (None when it has nothing to say)."""
    key: Any = TEST_JWT_SECRET
    algorithms = ["HS256"]
    if edge.key is not None:
        key, algorithms = edge.key.private.public_key(), [edge.key.alg]  # type: ignore[union-attr]
    try:
        jwt.decode(token, key, algorithms=algorithms, audience=AUDIENCE, issuer=ISSUER,
                   options={"require": ["exp", "sub"]})
    except (jwt.InvalidTokenError, TypeError) as exc:
        return str(exc)
    return None


@pytest.fixture(params=["hs256", "jwks"])
async def edge(request: pytest.FixtureRequest, fast_sim_state: SimulatorState,
               jwks_server: JwksServer, first_key: SigningKey) -> AsyncIterator[Edge]:
    auth: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE}
    if request.param == "jwks":
        auth["jwks_url"] = jwks_server.url
        key: SigningKey | None = first_key

        def sign(c: dict[str, Any]) -> str:
            return first_key.sign(c)
    else:
        key = None

        def sign(c: dict[str, Any]) -> str:
            return jwt.encode(c, TEST_JWT_SECRET, "HS256")
    app = create_app(gateway_settings(auth=auth),
                     transports=dict.fromkeys(SOURCES, httpx.ASGITransport(app=create_simulator_app(
                         state=fast_sim_state))))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield Edge(client, request.param, sign, key, fast_sim_state)
    await app.state.sources.aclose()
    await app.state.verifier.aclose()


async def test_every_bad_token_is_a_401_with_an_rfc6750_challenge_and_no_library_text(edge: Edge) -> None:
    good = await edge.post(edge.sign(claims()))
    assert good.status_code == 200, good.text  # the control: this gateway accepts its own tokens

    cases = _bad_tokens(edge)
    assert len(cases) >= (11 if edge.mode == "jwks" else 10)
    calls_before = sum(edge.sim.requests.values())
    for name, token in cases.items():
        response = await edge.post(token)
        assert response.status_code == 401, name
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="harmonia"'), name
        if token is None:  # RFC 6750 3.1: no error code when the request carried no credentials
            assert "error=" not in challenge, name
        else:
            assert 'error="invalid_token"' in challenge, name
        body = response.json()
        [error] = body["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED", name
        assert error["message"] in OUR_MESSAGES, (name, error["message"])
        assert body["extensions"]["cost"]["actualQueryCost"] == 0
        library = _library_text(edge, token) if token else None
        if library:
            assert library not in response.text and library not in challenge, (name, library)
    assert sum(edge.sim.requests.values()) == calls_before  # nothing ran for any of them


async def test_the_reason_is_told_in_our_words(edge: Edge) -> None:
    now = int(time.time())
    expired = await edge.post(edge.sign(claims(exp=now - 120)))
    assert expired.json()["errors"][0]["message"] == tokens.EXPIRED
    audience = await edge.post(edge.sign(claims(aud="nope")))
    assert audience.json()["errors"][0]["message"] == tokens.WRONG_AUDIENCE
    # Within the leeway: a token that expired two seconds ago on a slightly fast issuer clock still works.
    assert (await edge.post(edge.sign(claims(exp=now - 2)))).status_code == 200


async def test_es256_keys_from_the_set_verify(jwks_server: JwksServer, fast_sim_state: SimulatorState) -> None:
    key = ec_key("ec-1")
    jwks_server.keys.append(key)
    app = create_app(gateway_settings(auth={"jwks_url": jwks_server.url, "audience": AUDIENCE}),
                     transports=dict.fromkeys(SOURCES, httpx.ASGITransport(app=create_simulator_app(
                         state=fast_sim_state))))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        ok = await client.post("/graphql", json={"query": "{ __typename }"},
                               headers={"Authorization": f"Bearer {key.sign(claims(iss=None))}"})
        # An HS256 token made with the demo secret means nothing once a key set is configured.
        hs = await client.post("/graphql", json={"query": "{ __typename }"}, headers={
            "Authorization": f"Bearer {jwt.encode(claims(iss=None), TEST_JWT_SECRET, 'HS256')}"})
    await app.state.sources.aclose()
    await app.state.verifier.aclose()
    assert ok.status_code == 200 and ok.json()["data"] == {"__typename": "Query"}
    assert hs.status_code == 401
