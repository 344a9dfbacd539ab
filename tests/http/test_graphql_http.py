"""HTTP behaviour: tokens, status codes, error codes, cost extension, roles, partial failures."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import TEST_JWT_SECRET, Gateway, token_for

QUERY = "{ customers(first: 2) { edges { node { email phone } } } }"


def _cost_ok(body: dict[str, object]) -> None:
    cost = body["extensions"]["cost"]  # type: ignore[index]
    assert isinstance(cost["requestedQueryCost"], int | float)  # type: ignore[index]
    assert isinstance(cost["actualQueryCost"], int | float)  # type: ignore[index]
    status = cost["throttleStatus"]  # type: ignore[index]
    assert all(isinstance(status[k], int | float) for k in ("maximumAvailable", "currentlyAvailable", "restoreRate"))


async def test_no_token_is_401_with_a_bearer_challenge_and_no_upstream_call(gateway: Gateway) -> None:
    response = await gateway.client.post("/graphql", json={"query": QUERY})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    _cost_ok(body)
    assert sum(gateway.upstream_calls().values()) == 0


async def test_expired_and_forged_tokens_are_401(gateway: Gateway) -> None:
    expired = jwt.encode({"sub": "x", "roles": ["admin"], "exp": int(time.time()) - 10}, TEST_JWT_SECRET, "HS256")
    claims = {"sub": "x", "roles": ["admin"], "exp": int(time.time()) + 60}
    forged = jwt.encode(claims, "not-the-secret-but-long-enough-for-hs256", "HS256")
    for token in (expired, forged, "garbage"):
        response = await gateway.post(QUERY, token=token)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_accepted_before_is_refused_once_it_expires(gateway: Gateway) -> None:
    # Verified tokens are remembered (the signature is not checked again), but only until their exp
    # (plus the clock-skew leeway every check allows): a token one second from its last valid moment.
    leeway = gateway.app.state.settings.auth.leeway_seconds
    expires = int(time.time()) + 1 - leeway
    token = jwt.encode({"sub": "x", "roles": ["admin"], "exp": expires}, TEST_JWT_SECRET, "HS256")
    first = await gateway.post("{ __typename }", token=token)
    await asyncio.sleep(max(0.0, expires + leeway - time.time()) + 0.05)

    later = await gateway.post("{ __typename }", token=token)

    assert first.status_code == 200
    assert later.status_code == 401
    assert later.json()["errors"][0]["message"] == "The token has expired"


async def test_health_and_graphiql_need_no_token(gateway: Gateway) -> None:
    assert (await gateway.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["hubspot"] == "ok"
    page = await gateway.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    metrics = await gateway.client.get("/metrics")
    assert metrics.status_code == 200 and "harmonia_operations_total" in metrics.text


async def test_parse_and_validation_errors_carry_their_codes_and_400(gateway: Gateway) -> None:
    parse = await gateway.post("{ customers(first: 2) { edges ")
    assert parse.status_code == 400
    assert parse.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    _cost_ok(parse.json())

    invalid = await gateway.post("{ customers { nope } }")
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert sum(gateway.upstream_calls().values()) == 0


async def test_oversized_pages_and_bad_ids_are_bad_user_input(gateway: Gateway) -> None:
    big = await gateway.query("{ customers(first: 500) { edges { node { email } } } }")
    assert big["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    bad_id = await gateway.query('{ customer(id: "not-an-id") { email } }')
    assert bad_id["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    bad_cursor = await gateway.query('{ orders(first: 2, after: "zzz") { edges { node { name } } } }')
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    bad_dates = await gateway.query(
        '{ campaigns(first: 1) { edges { node { analytics(dateRange: {startDate: "2026-13-01", '
        'endDate: "2026-01-01"}) { sessions } } } } }')
    assert bad_dates["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_too_many_aliases_and_too_deep_are_rejected_before_any_upstream_call(gateway: Gateway) -> None:
    aliases = " ".join(f"a{i}: customers(first: 1) {{ edges {{ node {{ email }} }} }}" for i in range(16))
    body = await gateway.query("{ " + aliases + " }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    _cost_ok(body)
    deep = "{ orders(first: 1) { edges { node { name } } } }"
    for _ in range(6):  # each hop: order -> customer -> orders
        deep = deep.replace("{ name }", "{ customer { orders(first: 1) { edges { node { name } } } } }")
    body = await gateway.query(deep)
    assert body["errors"][0]["extensions"]["code"] == "DEPTH_LIMIT_EXCEEDED"
    assert sum(gateway.upstream_calls().values()) == 0


async def test_every_response_carries_the_cost_extension(gateway: Gateway) -> None:
    body = await gateway.query(QUERY)
    _cost_ok(body)
    assert body["extensions"]["cost"]["requestedQueryCost"] > 0


async def test_analyst_sees_contact_data_masked_never_in_clear(gateway: Gateway) -> None:
    clear = await gateway.query(QUERY, role="marketer")
    masked = await gateway.query(QUERY, role="analyst")

    for c, m in zip(clear["data"]["customers"]["edges"], masked["data"]["customers"]["edges"], strict=True):
        email = c["node"]["email"]
        assert m["node"]["email"] != email and m["node"]["email"] == f"{email[0]}***@{email.split('@')[1]}"
        if c["node"]["phone"]:
            assert m["node"]["phone"] == "***" + c["node"]["phone"][-4:]


async def test_support_gets_null_campaign_stats_with_forbidden_and_the_rest(gateway: Gateway) -> None:
    body = await gateway.query("{ campaigns(first: 2) { edges { node { name stats { clicks } } } } }", role="support")

    nodes = [e["node"] for e in body["data"]["campaigns"]["edges"]]
    assert all(n["name"] and n["stats"] is None for n in nodes)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert body["errors"][0]["path"][-1] == "stats"
    assert gateway.upstream_calls()["mailchimp"] == 1  # the list, never a report


async def test_a_token_with_several_roles_gets_the_union(gateway: Gateway) -> None:
    token = token_for("analyst", "support")
    body = await gateway.query(QUERY, token=token)
    # support reads contact data in clear, so the union does too; analyst adds campaign stats.
    assert "***" not in body["data"]["customers"]["edges"][0]["node"]["email"]
    body = await gateway.query("{ campaigns(first: 1) { edges { node { stats { clicks } } } } }", token=token)
    assert "errors" not in body


async def test_unknown_role_reads_nothing(gateway: Gateway) -> None:
    body = await gateway.query(QUERY, role="intern")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert sum(gateway.upstream_calls().values()) == 0


async def test_a_failing_source_nulls_only_its_own_fields(gateway: Gateway) -> None:
    await gateway_faults(gateway, {"source": "mailchimp", "status": 503, "rate": 1.0, "seconds": 30})

    body = await gateway.query("{ customers(first: 3) { edges { node { email emailMarketingStatus } } } }")

    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert all(n["email"] for n in nodes)
    assert all(n["emailMarketingStatus"] is None for n in nodes)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    text = str(body)
    assert "Injected" not in text and "problem" not in text  # no upstream body leaks


async def gateway_faults(gateway: Gateway, fault: dict[str, object]) -> None:
    from harmonia.simulators.app import create_simulator_app

    app = create_simulator_app(state=gateway.sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        assert (await client.post("/__faults", json=fault)).status_code == 200


async def test_other_methods_are_405_naming_get_and_post(gateway: Gateway) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await gateway.client.request(method, "/graphql", json={"query": "{ __typename }"},
                                                headers={"Authorization": f"Bearer {token_for('admin')}"})
        assert response.status_code == 405
        assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}
    head = await gateway.client.head("/graphql", headers={"Authorization": f"Bearer {token_for('admin')}"})
    assert head.status_code != 405


CANARY = "two-canary-5d1f"  # a client's value that must never reach a log line


@pytest.mark.parametrize(("query", "variables"), [
    ("query($n: Int!) { customers(first: $n) { edges { node { id } } } }", {"n": CANARY}),
    ("query($n: Int!) { customers(first: $n) { edges { node { id } } } }", {}),
    ("query($r: DateRangeInput!) { analytics(dateRange: $r, dimensions: [], metrics: []) { rowCount } }",
     {"r": {"startDate": CANARY, "endDate": 7}}),
    ("query($id: ID!, $n: Int) { customer(id: $id) { orders(first: $n) { totalCount } } }",
     {"id": "x", "n": [CANARY]}),
])
async def test_a_variable_of_the_wrong_type_is_bad_user_input_never_logged(
        gateway: Gateway, caplog: pytest.LogCaptureFixture, query: str, variables: dict[str, Any]) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Accept": "application/graphql-response+json"}

    response = await gateway.post(query, variables, role="analyst", headers=headers)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    body = response.json()
    assert "data" not in body  # a request error: nothing ran
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    assert all(e["message"].startswith("Variable '$") for e in body["errors"])
    _cost_ok(body)
    assert sum(gateway.upstream_calls().values()) == 0
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.exc_info or ''}" for r in caplog.records)
    assert CANARY not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_bad_variable_under_plain_json_is_200_with_the_same_error(gateway: Gateway) -> None:
    # GraphQL over HTTP: a client that accepts only application/json gets request errors with 200.
    response = await gateway.post("query($n: Int!) { customers(first: $n) { totalCount } }", {"n": "two"},
                                  headers={"Accept": "application/json"})

    assert response.status_code == 200
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("accept", [None, "*/*"], ids=["no Accept", "*/*"])
async def test_a_client_naming_no_media_type_gets_application_json(gateway: Gateway, accept: str | None) -> None:
    # GraphQL over HTTP: such a client may predate application/graphql-response+json, so it gets
    # application/json and its statuses (a validation error is 200 with the error in the body).
    async def send(body: bytes) -> httpx.Response:
        request = gateway.client.build_request("POST", "/graphql", content=body, headers={
            "Authorization": f"Bearer {token_for('admin')}", "Content-Type": "application/json"})
        del request.headers["Accept"]  # the test client's default
        if accept is not None:
            request.headers["Accept"] = accept
        return await gateway.client.send(request)

    response = await send(b'{"query": "{ nope }"}')
    ok = await send(b'{"query": "{ __typename }"}')

    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/json"
    assert ok.json()["data"] == {"__typename": "Query"}
