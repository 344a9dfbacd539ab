"""The Shopify simulator answers as the GraphQL Admin API does: shapes, costs, the bucket, the 60 days."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.shopify import bucket_of
from harmonia.simulators.shopify_search import epoch

TOKEN = DEMO_CREDENTIALS["shopify_token"]
HEADERS = {"X-Shopify-Access-Token": TOKEN}
ENDPOINT = "/shopify/admin/api/2026-10/graphql.json"
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"


async def ask(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None,
              **extra: Any) -> httpx.Response:
    return await client.post(ENDPOINT, headers=HEADERS, json={"query": query, "variables": variables or {}, **extra})


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


@pytest.fixture
async def client_for(world: World) -> AsyncIterator[Any]:
    """A client over a simulator with the given config (``rate_limits`` on unless said)."""
    clients: list[httpx.AsyncClient] = []

    def make(**config: Any) -> tuple[httpx.AsyncClient, SimulatorState]:
        state = SimulatorState(SimulatorConfig(seed=7, **config), world=world)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_simulator_app(state=state)),
                                   base_url="http://simulators")
        clients.append(client)
        return client, state

    yield make
    for client in clients:
        await client.aclose()


async def test_a_missing_or_wrong_token_gets_shopifys_401_body(sim_client: httpx.AsyncClient) -> None:
    for headers in ({}, {"X-Shopify-Access-Token": "shpat_wrong"}):
        response = await sim_client.post(ENDPOINT, headers=headers, json={"query": "{ shop { name } }"})
        assert (response.status_code, response.json()) == (401, {"errors": AUTH_ERROR})


async def test_a_dated_version_is_served_and_anything_else_is_not_found(sim_client: httpx.AsyncClient) -> None:
    for version, status in (("2025-07", 200), ("unstable", 200), ("latest", 404), ("2026-1", 404)):
        response = await sim_client.post(f"/shopify/admin/api/{version}/graphql.json", headers=HEADERS,
                                         json={"query": "{ shop { name } }"})
        assert response.status_code == status, version


async def test_any_client_query_shape_runs_fragments_aliases_variables_and_typename(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    first, second = world.orders[:2]
    query = """query Two($ids: [ID!]!) { picked: nodes(ids: $ids) { __typename ...O } }
               fragment O on Order { id name amount: totalPriceSet { shopMoney { amount currencyCode } } }"""
    body = (await ask(sim_client, query, {"ids": [gid("Order", first["id"]), gid("Order", second["id"])]})).json()

    assert "errors" not in body
    picked = body["data"]["picked"]
    assert [p["__typename"] for p in picked] == ["Order", "Order"]
    assert [p["name"] for p in picked] == [first["name"], second["name"]]
    assert picked[0]["amount"]["shopMoney"]["currencyCode"] == "USD"


async def test_syntax_and_validation_errors_are_graphql_errors_at_http_200(sim_client: httpx.AsyncClient) -> None:
    broken = await ask(sim_client, "{ orders(first: 1) { nodes { id }")
    unknown = await ask(sim_client, "{ orders(first: 1) { nodes { landingSite } } }")
    not_json = await sim_client.post(ENDPOINT, headers=HEADERS, content=b"{")

    assert broken.status_code == unknown.status_code == 200
    assert "data" not in broken.json() and broken.json()["errors"][0]["locations"]
    assert "landingSite" in unknown.json()["errors"][0]["message"]
    assert not_json.status_code == 400


async def test_orders_of_every_status_page_by_cursor_in_id_order(sim_client: httpx.AsyncClient, world: World) -> None:
    query = """query($after: String) { orders(first: 100, after: $after, sortKey: ID) {
                 edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""
    first = (await ask(sim_client, query)).json()["data"]["orders"]
    second = (await ask(sim_client, query, {"after": first["pageInfo"]["endCursor"]})).json()["data"]["orders"]

    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert ids == [gid("Order", o["id"]) for o in world.orders[:200]]
    assert first["edges"][-1]["cursor"] == first["pageInfo"]["endCursor"] and first["pageInfo"]["hasNextPage"]
    statuses = {"cancelled" if o["cancelled_at"] else "closed" if o["closed_at"] else "open"
                for o in world.orders[:200]}
    assert statuses == {"open", "closed", "cancelled"}  # no default status filter, unlike REST


async def test_search_syntax_filters_by_email_status_and_date(sim_client: httpx.AsyncClient, world: World) -> None:
    customer = next(c for c in world.shopify_customers if c["email"].strip() != c["email"].strip().lower())
    found = (await ask(sim_client, 'query($q: String!) { customers(first: 5, query: $q) { nodes { id } } }',
                       {"q": f'email:"{customer["email"].strip().lower()}"'})).json()
    cancelled = (await ask(sim_client, '{ orders(first: 250, query: "status:cancelled AND created_at:>=2024-01-01") '
                                       "{ nodes { cancelledAt createdAt } } }")).json()

    assert found["data"]["customers"]["nodes"] == [{"id": gid("Customer", customer["id"])}]
    nodes = cancelled["data"]["orders"]["nodes"]
    assert nodes and all(n["cancelledAt"] and n["createdAt"] >= "2024-01-01" for n in nodes)


async def test_money_dates_counts_and_states_have_the_graphql_shapes(sim_client: httpx.AsyncClient,
                                                                     world: World) -> None:
    customer = next(c for c in world.shopify_customers if c["orders_count"] and c["phone"])
    query = """query($id: ID!) { customer(id: $id) { numberOfOrders amountSpent { amount currencyCode } createdAt
                 defaultEmailAddress { emailAddress marketingState } defaultPhoneNumber { phoneNumber } } }"""
    body = (await ask(sim_client, query, {"id": gid("Customer", customer["id"])})).json()["data"]["customer"]

    assert body["numberOfOrders"] == str(customer["orders_count"])  # UnsignedInt64: a string
    assert body["amountSpent"]["amount"].rstrip("0") == customer["total_spent"].rstrip("0")
    assert not body["amountSpent"]["amount"].endswith("00") or body["amountSpent"]["amount"].endswith(".0")
    assert body["createdAt"].endswith("Z")
    assert body["defaultEmailAddress"]["marketingState"] == customer["email_marketing_consent"]["state"].upper()
    assert body["defaultPhoneNumber"]["phoneNumber"] == customer["phone"]


async def test_a_one_visit_journey_has_no_last_visit_and_the_utm_campaign_rides_on_the_first(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    single = next(o for o in world.orders if o["id"] % 3 == 0 and "utm_campaign" in o["landing_site"])
    double = next(o for o in world.orders if o["id"] % 3 and "utm_campaign" in o["landing_site"])
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Order { customerJourneySummary {
                 firstVisit { utmParameters { campaign } } lastVisit { utmParameters { campaign } } } } } }"""
    one, two = (await ask(sim_client, query, {"ids": [gid("Order", single["id"]), gid("Order", double["id"])]})
                ).json()["data"]["nodes"]

    assert one["customerJourneySummary"]["lastVisit"] is None
    assert one["customerJourneySummary"]["firstVisit"]["utmParameters"]["campaign"]
    assert two["customerJourneySummary"]["firstVisit"]["utmParameters"] is None
    assert two["customerJourneySummary"]["lastVisit"]["utmParameters"]["campaign"]


@pytest.mark.parametrize(("query", "cost"), [
    ("{ shop { name } }", 1),
    ("{ orders(first: 10) { edges { node { id } } } }", 2 + 10 * 1),
    ("{ orders(first: 10) { nodes { id totalPriceSet { shopMoney { amount } } } } }", 2 + 10 * 3),
    # Nested connections multiply; pageInfo is part of the connection's 2.
    ("{ customers(first: 5) { pageInfo { hasNextPage } nodes { id orders(first: 4) { nodes { name } } } } }",
     2 + 5 * (1 + 2 + 4)),
    # nodes(ids:): one element per id, the costliest of the interface's types.
    ('{ nodes(ids: ["gid://shopify/Order/1", "gid://shopify/Order/2"]) { id ... on Order { customer { id } } } }',
     2 * 2),
    ("{ ordersCount(limit: null) { count } }", 1),
])
async def test_requested_cost_follows_shopifys_rules(sim_client: httpx.AsyncClient, query: str, cost: int) -> None:
    body = (await ask(sim_client, query)).json()
    assert body["extensions"]["cost"]["requestedQueryCost"] == cost, body


async def test_a_mutation_costs_ten_plus_its_payload_and_user_errors_are_free(sim_client: httpx.AsyncClient) -> None:
    body = (await ask(sim_client, 'mutation { customerRequestDataErasure(customerId: "gid://shopify/Customer/1") '
                                  "{ customerId userErrors { field message code } } }")).json()
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    assert body["data"]["customerRequestDataErasure"] == {"customerId": None, "userErrors": [
        {"field": ["customerId"], "message": "Customer does not exist", "code": "DOES_NOT_EXIST"}]}


async def test_the_unused_part_of_the_requested_cost_is_refunded(client_for: Any) -> None:
    client, _ = client_for(shopify_restore_rate=0.0)  # nothing restored meanwhile: the figure is exact
    body = (await ask(client, '{ orders(first: 250, query: "name:#1001") { nodes { id } } }')).json()
    cost = body["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (252, 3)
    assert cost["throttleStatus"] == {"maximumAvailable": 2000.0, "currentlyAvailable": 1997, "restoreRate": 0.0}


async def test_a_query_over_1000_points_is_refused_with_max_cost_exceeded(sim_client: httpx.AsyncClient) -> None:
    response = await ask(sim_client, "{ orders(first: 250) { nodes { id lineItems(first: 5) { nodes { id } } } } }")
    body = response.json()
    assert response.status_code == 200 and "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert (error["extensions"]["cost"], error["extensions"]["maxCost"]) == (2 + 250 * (1 + 2 + 5), 1000)


async def test_more_than_250_ids_are_refused(sim_client: httpx.AsyncClient) -> None:
    ids = [gid("Order", n) for n in range(251)]
    body = (await ask(sim_client, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"


@pytest.mark.parametrize("status", [200, 429])
async def test_an_empty_bucket_answers_throttled_without_data_at_the_configured_status(
    client_for: Any, status: int
) -> None:
    client, state = client_for(shopify_throttle_status=status)
    bucket_of(state).reconfigure(restore_rate=0.0, available=10.0)

    refused = await ask(client, "{ orders(first: 50) { nodes { id } } }")
    cheap = await ask(client, "{ shop { name } }")

    body = refused.json()
    assert refused.status_code == status and "data" not in body
    assert body["errors"] == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 10
    assert cheap.status_code == 200 and cheap.json()["data"]["shop"]["name"]
    stats = (await client.get("/__stats")).json()["shopify"]
    assert stats["graphql_errors"] == {"THROTTLED": 1} and stats["by_route"] == {
        "POST /admin/api/{version}/graphql.json": 2}


async def test_tests_can_raise_and_lower_the_restore_rate_while_it_runs(client_for: Any) -> None:
    client, _ = client_for()
    raised = await client.post("/__throttle", json={"source": "shopify", "restoreRate": 400,
                                                    "maximumAvailable": 500, "currentlyAvailable": 0})
    await asyncio.sleep(0.5)
    status = (await ask(client, "{ shop { name } }")).json()["extensions"]["cost"]["throttleStatus"]
    refused = await client.post("/__throttle", json={"source": "mailchimp", "restoreRate": 1})

    assert raised.json() == {"ok": True, "source": "shopify", "maximumAvailable": 500.0, "restoreRate": 400.0,
                             "throttleStatus": 200}
    assert status["maximumAvailable"] == 500.0 and status["restoreRate"] == 400.0
    assert 150 <= status["currentlyAvailable"] <= 500  # restored at 400 a second from 0
    assert refused.status_code == 400


async def test_without_rate_limits_no_bucket_can_be_emptied(client_for: Any) -> None:
    client, _ = client_for(rate_limits=False)
    answers = [await ask(client, "{ orders(first: 250) { nodes { id } } }") for _ in range(12)]
    assert all("data" in a.json() for a in answers)
    assert answers[-1].json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] > 10**8


async def test_without_read_all_orders_only_the_last_60_days_of_orders_exist(client_for: Any, world: World) -> None:
    client, _ = client_for(shopify_read_all_orders=False)
    newest = max(epoch(o["created_at"]) for o in world.orders)
    recent = [o for o in world.orders if epoch(o["created_at"]) >= newest - 60 * 86_400]
    old = world.orders[0]
    owner = next(o["customer"]["id"] for o in world.orders if o["customer"] and o not in recent)
    query = """query($old: ID!, $owner: ID!) { orders(first: 250) { nodes { id } } ordersCount(limit: null) { count }
                 order(id: $old) { id } nodes(ids: [$old]) { id }
                 customer(id: $owner) { orders(first: 50) { nodes { createdAt } } }
                 currentAppInstallation { accessScopes { handle } } }"""
    body = (await ask(client, query, {"old": gid("Order", old["id"]), "owner": gid("Customer", owner)})).json()["data"]

    assert [n["id"] for n in body["orders"]["nodes"]] == [gid("Order", o["id"]) for o in recent][:250]
    assert body["ordersCount"]["count"] == len(recent) < len(world.orders)
    assert body["order"] is None and body["nodes"] == [None]
    assert all(epoch(n["createdAt"]) >= newest - 60 * 86_400 for n in body["customer"]["orders"]["nodes"])
    assert "read_all_orders" not in {s["handle"] for s in body["currentAppInstallation"]["accessScopes"]}
    assert "read_orders" in {s["handle"] for s in body["currentAppInstallation"]["accessScopes"]}


async def test_shop_and_app_installation_answer_the_doctors_questions(sim_client: httpx.AsyncClient) -> None:
    body = (await ask(sim_client, "{ shop { name plan { displayName } } "
                                  "currentAppInstallation { accessScopes { handle } } }")).json()["data"]
    assert body["shop"] == {"name": "Harmonia Outdoor", "plan": {"displayName": "Basic"}}
    assert {"read_orders", "read_all_orders", "read_customers"} <= {s["handle"] for s in
                                                                  body["currentAppInstallation"]["accessScopes"]}


async def test_stats_count_each_call_under_its_route_and_operation_and_reset_zeroes_them(
    sim_client: httpx.AsyncClient
) -> None:
    await ask(sim_client, "query Named { shop { name } }")
    await ask(sim_client, "{ shop { name } }")
    stats = (await sim_client.get("/__stats")).json()["shopify"]
    await sim_client.post("/__reset")
    after = (await sim_client.get("/__stats")).json()["shopify"]

    assert stats["requests"] == 2 and stats["operations"] == {"Named": 1, "anonymous": 1}
    assert after["requests"] == 0 and after["operations"] == {}


async def test_injected_faults_render_shopifys_error_body(sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "shopify", "status": 503, "rate": 1.0, "seconds": 5})
    response = await ask(sim_client, "{ shop { name } }")
    assert response.status_code == 503 and response.json() == {"errors": "Injected fault"}
