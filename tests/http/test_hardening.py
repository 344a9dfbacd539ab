"""The HTTP edge against clients that misbehave or probe: size, batches, suggestions, introspection,
GraphiQL, CORS, CSRF, and logs that never carry a token, a secret or a customer's data."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import Fault, SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from tests.conftest import SOURCES, TEST_JWT_SECRET, Gateway, gateway_settings, token_for

Build = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def build(world: World) -> AsyncIterator[Build]:
    built: list[Gateway] = []

    async def make(**overrides: Any) -> Gateway:
        from harmonia.app import create_app

        sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world)
        sim_transport = httpx.ASGITransport(app=create_simulator_app(state=sim))
        app = create_app(gateway_settings(**overrides), transports=dict.fromkeys(SOURCES, sim_transport))
        gateway = Gateway(app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw"), sim)
        built.append(gateway)
        return gateway

    yield make
    for gateway in built:
        await gateway.client.aclose()
        await gateway.app.state.aclose()


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('admin')}"}


async def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(build: Build) -> None:
    gateway = await build(http={"max_body_bytes": 2000})
    big = b'{"query": "{ __typename }", "pad": "' + b"x" * 5000 + b'"}'
    declared = await gateway.client.post("/graphql", content=big,
                                         headers={**auth(), "Content-Type": "application/json"})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 500):
            yield big[start:start + 500]

    streamed = await gateway.client.post("/graphql", content=chunks(),
                                         headers={**auth(), "Content-Type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert sum(gateway.upstream_calls().values()) == 0


async def test_a_batch_of_operations_is_refused_without_running_any(build: Build) -> None:
    gateway = await build()
    response = await gateway.client.post("/graphql", headers=auth(), json=[
        {"query": "{ customers(first: 1) { edges { node { id } } } }"}] * 3)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert sum(gateway.upstream_calls().values()) == 0


async def test_field_suggestions_only_in_development(build: Build) -> None:
    typo = "{ customers(first: 1) { edges { node { emial } } } }"
    production = await (await build(dev_mode=False)).query(typo)
    development = await (await build(dev_mode=True)).query(typo)

    assert production["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" not in production["errors"][0]["message"]
    assert "Did you mean" in development["errors"][0]["message"]


async def test_introspection_and_graphiql_can_be_switched_off(build: Build) -> None:
    closed = await build(http={"introspection": False, "graphiql": False})
    body = await closed.query("{ __schema { types { name } } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    page = await closed.client.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in page.text.lower()
    assert (await closed.query("{ __typename }"))["data"] == {"__typename": "Query"}

    open_ = await build()
    assert "errors" not in await open_.query("{ __schema { types { name } } }")
    page = await open_.client.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" in page.text.lower()


async def test_cors_answers_only_the_allowed_origins(build: Build) -> None:
    gateway = await build(http={"cors_origins": ["https://dash.example.com"]})
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = await gateway.client.options("/graphql", headers={"Origin": "https://dash.example.com", **preflight})
    other = await gateway.client.options("/graphql", headers={"Origin": "https://evil.example", **preflight})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers

    no_cors = await build()
    plain = await no_cors.client.post("/graphql", headers={**auth(), "Origin": "https://dash.example.com"},
                                      json={"query": "{ __typename }"})
    assert "access-control-allow-origin" not in plain.headers


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
async def test_a_cross_site_simple_request_runs_nothing(build: Build, content_type: str) -> None:
    gateway = await build()
    mutation = 'mutation { __typename }'
    response = await gateway.client.post("/graphql", content=f'{{"query": "{mutation}"}}',
                                         headers={**auth(), "Content-Type": content_type})
    assert response.status_code == 415
    assert sum(gateway.upstream_calls().values()) == 0


async def test_logs_carry_no_token_secret_or_customer_data(build: Build, caplog: pytest.LogCaptureFixture) -> None:
    gateway = await build(sources={"mailchimp": {"read_timeout": 0.2, "max_retries": 0}})
    token = token_for("admin")
    email = gateway.sim.world.contacts[0]["properties"]["email"].strip().lower()
    caplog.set_level(logging.DEBUG)
    gateway.sim.faults["mailchimp"] = Fault(status=500, rate=1.0, latency_ms=0, until=1e18)
    await gateway.query("query($e: String!) { customerByEmail(email: $e) { email emailMarketingStatus "
                        "totalSpent { amount } } }", {"e": email}, token=token)
    await gateway.post("{ customers(first: 1) { edges { node { id } } } }", token=token + "tampered")
    await gateway.client.get("/graphql", params={"query": f'{{ customerByEmail(email: "{email}") {{ id }} }}'},
                             headers={"Authorization": f"Bearer {token}"})

    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in (token, TEST_JWT_SECRET, email, quote(email), quote(email, safe=""),
                   *DEMO_CREDENTIALS.values()):
        assert secret not in text
