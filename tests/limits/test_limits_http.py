"""Limits through the real pipeline: refused before any upstream call, with the value and the limit."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from graphql import get_introspection_query

from tests.conftest import Gateway, token_for
from tests.limits.conftest import upstream_requests

NESTED = "{ customers(first: 50) { edges { node { email orders(first: 5) { edges { node { name } } } } } } }"


def _error(body: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = body["errors"][0]
    return first


def _cost_numbers(body: dict[str, Any]) -> None:
    cost = body["extensions"]["cost"]
    numbers = [cost["requestedQueryCost"], cost["actualQueryCost"], *cost["throttleStatus"].values(),
               *cost["estimatedUpstreamCalls"].values()]
    assert all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers), cost


async def test_an_over_limit_operation_is_refused_with_its_cost_and_no_upstream_call(gateway: Gateway) -> None:
    expensive = ("{ customers(first: 100) { edges { node { orders(first: 100) { edges { node { name "
                 "lineItems { title } } } } } } } }")
    response = await gateway.post(expensive)

    assert response.status_code == 400
    body = response.json()
    assert _error(body)["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 1 + 100 * (3 + 100 * 7),
                                          "limit": 5000}
    assert body["extensions"]["cost"]["requestedQueryCost"] == 70301
    assert body["extensions"]["cost"]["actualQueryCost"] == 0
    _cost_numbers(body)
    assert await upstream_requests(gateway) == 0


async def test_a_too_deep_operation_is_refused_with_its_depth_and_no_upstream_call(gateway: Gateway) -> None:
    deep = "{ orders(first: 1) { edges { node { name } } } }"
    for _ in range(3):  # each hop: order -> customer -> orders
        deep = deep.replace("{ name }", "{ customer { orders(first: 1) { edges { node { name } } } } }")

    body = (await gateway.post(deep)).json()

    assert _error(body)["extensions"] == {"code": "DEPTH_LIMIT_EXCEEDED", "depth": 7, "limit": 6}
    _cost_numbers(body)
    assert await upstream_requests(gateway) == 0


async def test_ordinary_dashboard_use_passes_the_defaults(gateway: Gateway) -> None:
    # Six levels of real objects, pages of 100, ten aliases: all inside the defaults.
    six = ("{ orders(first: 2) { edges { node { customer { orders(first: 2) { edges { node { customer { "
           "orders(first: 2) { edges { node { totalPrice { amount } } } } } } } } } } } } }")
    assert "errors" not in await gateway.query(six)
    aliases = " ".join(f"a{i}: orders(first: 10) {{ edges {{ node {{ name }} }} }}" for i in range(10))
    assert "errors" not in await gateway.query("{ " + aliases + " }")
    page = await gateway.query("{ customers(first: 100) { edges { node { email } } } }")
    assert len(page["data"]["customers"]["edges"]) == 100


async def test_a_client_walks_every_customer_page_by_page_without_being_throttled(gateway: Gateway) -> None:
    walk = "query($after: String) { customers(first: 100, after: $after) { edges { node { email } } " \
           "pageInfo { hasNextPage endCursor } } }"
    seen, after = 0, None
    while True:
        response = await gateway.post(walk, {"after": after})
        assert response.status_code == 200, response.json()
        page = response.json()["data"]["customers"]
        seen += len(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen >= 2000


async def test_standard_introspection_answers_under_the_default_limits_and_is_priced(gateway: Gateway) -> None:
    body = await gateway.query(get_introspection_query(descriptions=True, input_value_deprecation=True,
                                                       specified_by_url=True, directive_is_repeatable=True))
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    cost = body["extensions"]["cost"]
    # Priced by the objects it returns, so the actual cost (the answer walked) equals the price.
    assert cost["requestedQueryCost"] == cost["actualQueryCost"] > 400


async def test_alias_bomb_is_bad_user_input(gateway: Gateway) -> None:
    bomb = "{ " + " ".join(f"a{i}: __typename" for i in range(200)) + " }"
    body = (await gateway.post(bomb)).json()
    assert _error(body)["extensions"]["code"] == "BAD_USER_INPUT"
    sixteen = "{ customers(first: 1) { edges { node { " + " ".join(f"e{i}: email" for i in range(16)) + " } } } }"
    body = (await gateway.post(sixteen)).json()
    assert _error(body)["extensions"] == {"code": "BAD_USER_INPUT", "aliases": 16, "limit": 15}
    assert await upstream_requests(gateway) == 0


async def test_fifty_level_nesting_is_refused_by_depth(gateway: Gateway) -> None:
    deep = "{ orders(first: 1) { edges { node { name } } } }"
    for _ in range(25):
        deep = deep.replace("{ name }", "{ customer { orders(first: 1) { edges { node { name } } } } }")
    body = (await gateway.post(deep)).json()
    assert _error(body)["extensions"] == {"code": "DEPTH_LIMIT_EXCEEDED", "depth": 51, "limit": 6}
    assert await upstream_requests(gateway) == 0


async def test_a_page_of_a_million_is_bad_user_input_literal_or_variable(gateway: Gateway) -> None:
    literal = await gateway.post("{ customers(first: 1000000) { edges { node { email } } } }")
    assert literal.status_code == 400
    assert _error(literal.json())["extensions"] == {
        "code": "BAD_USER_INPUT", "argument": "first", "value": 1000000, "limit": 100, "field": "customers"}
    variable = await gateway.post("query($n: Int) { orders(first: 10) { edges { node { customer { "
                                  "orders(first: $n) { edges { node { name } } } } } } } }", {"n": 1000000})
    assert _error(variable.json())["extensions"]["field"] == "orders.edges.node.customer.orders"
    negative = await gateway.post("{ orders(first: -1) { edges { node { name } } } }")
    assert _error(negative.json())["extensions"]["code"] == "BAD_USER_INPUT"
    assert await upstream_requests(gateway) == 0


async def test_a_one_megabyte_query_is_refused_cheaply(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {token_for('admin')}", "Content-Type": "application/json"}
    huge = "{ " + "__typename " * 100_000 + "}"  # 1.1 MB
    response = await gateway.client.post("/graphql", content=orjson.dumps({"query": huge}), headers=headers)
    assert response.status_code == 413
    assert _error(response.json())["extensions"]["code"] == "BAD_USER_INPUT"
    under = "{ " + "__typename " * 90_000 + "}"  # just under the body limit: the token limit stops it
    response = await gateway.client.post("/graphql", content=orjson.dumps({"query": under}), headers=headers)
    assert response.status_code == 400
    assert _error(response.json())["extensions"] == {"code": "BAD_USER_INPUT", "limit": 1000}


async def test_fragment_cycles_and_fragment_bombs_are_refused(gateway: Gateway) -> None:
    cycle = ("{ customers(first: 1) { edges { node { ...A } } } } "
             "fragment A on Customer { orders(first: 1) { edges { node { customer { ...B } } } } } "
             "fragment B on Customer { ...A }")
    body = (await gateway.post(cycle)).json()
    assert _error(body)["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "A" in _error(body)["message"] and "itself" in _error(body)["message"]
    # Each fragment doubles the one below it: 2^12 leaves from a few hundred tokens.
    fragments = ["fragment F0 on Customer { email }"]
    for i in range(1, 13):
        fragments.append(f"fragment F{i} on Customer {{ a: totalSpent {{ amount }} ...F{i - 1} "
                         f"orders(first: 1) {{ edges {{ node {{ customer {{ ...F{i - 1} }} }} }} }} }}")
    bomb = "{ customer(id: \"x\") { ...F12 } } " + " ".join(fragments)
    body = (await gateway.post(bomb)).json()
    assert _error(body)["extensions"]["code"] == "DEPTH_LIMIT_EXCEEDED"
    # Three aliased branches per fragment, seven fragments: 3^7 paths from under 300 tokens.
    wide = ["fragment W0 on Customer { email }"]
    for i in range(1, 8):
        wide.append(f"fragment W{i} on Customer {{ " + " ".join(
            f"k{j}: orders(first: 1) {{ edges {{ node {{ customer {{ ...W{i - 1} }} }} }} }}" for j in range(3))
            + " }")
    body = (await gateway.post("{ customer(id: \"x\") { ...W7 } } " + " ".join(wide))).json()
    assert _error(body)["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "fields": 2501, "limit": 5000}
    assert await upstream_requests(gateway) == 0


async def test_the_process_is_unaffected_by_hostile_operations(gateway: Gateway) -> None:
    hostile = [
        "{ " + " ".join(f"a{i}: __typename" for i in range(200)) + " }",
        "{ customers(first: 1000000) { edges { node { email } } } }",
        "{ __schema { types { fields { type { " + "ofType { " * 40 + "name" + " }" * 40 + " } } } } }",
    ]
    answers = await asyncio.gather(*(gateway.post(q) for q in hostile * 5))
    assert {a.status_code for a in answers} == {400}
    body = await gateway.query(NESTED)
    assert "errors" not in body
    assert len(body["data"]["customers"]["edges"]) == 50


async def test_a_preview_prices_without_running_or_spending(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {token_for('admin', sub='previewer')}"}
    payload = {"query": NESTED, "extensions": {"cost": {"preview": True, "breakdown": True}}}
    body = (await gateway.client.post("/graphql", json=payload, headers=headers)).json()

    assert "data" not in body and "errors" not in body
    cost = body["extensions"]["cost"]
    assert cost["preview"] is True and cost["throttled"] is False
    assert cost["requestedQueryCost"] == 651 and cost["actualQueryCost"] == 0
    assert cost["estimatedUpstreamCalls"] == {"hubspot": 1, "shopify": 1, "mailchimp": 0, "ga4": 0,
                                              "googleads": 0}
    assert cost["throttleStatus"]["currentlyAvailable"] == 20000  # nothing reserved
    assert {"path": "customers.edges.node.orders", "coordinate": "Customer.orders", "count": 50,
            "points": 550} in cost["breakdown"]
    assert await upstream_requests(gateway) == 0


async def test_a_preview_over_get_for_graphiql_users(gateway: Gateway) -> None:
    response = await gateway.client.get("/graphql", params={
        "query": NESTED, "extensions": '{"cost": {"preview": true}}'},
        headers={"Authorization": f"Bearer {token_for('analyst')}", "Accept": "application/json"})
    assert response.json()["extensions"]["cost"]["requestedQueryCost"] == 651
    assert await upstream_requests(gateway) == 0


async def test_a_breakdown_rides_along_a_real_answer(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    payload = {"query": "{ orders(first: 3) { totalCount edges { node { name } } } }",
               "extensions": {"cost": {"breakdown": True}}}
    body = (await gateway.client.post("/graphql", json=payload, headers=headers)).json()
    assert len(body["data"]["orders"]["edges"]) == 3
    paths = {line["path"]: line["points"] for line in body["extensions"]["cost"]["breakdown"]}
    assert paths == {"orders": 8, "orders.totalCount": 1, "orders.edges": 6, "orders.edges.node": 3}


async def test_every_refusal_carries_the_whole_cost_extension(gateway: Gateway) -> None:
    no_token = await gateway.client.post("/graphql", json={"query": "{ __typename }"})
    assert no_token.status_code == 401
    _cost_numbers(no_token.json())
    for query in ("{", "{ nope }", "{ customers(first: 1000000) { edges { node { email } } } }"):
        _cost_numbers((await gateway.post(query)).json())


async def test_graphiql_users_ask_for_the_breakdown_with_a_header(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {token_for('analyst')}", "Harmonia-Cost": "breakdown, preview"}
    body = (await gateway.client.post("/graphql", json={"query": NESTED}, headers=headers)).json()
    cost = body["extensions"]["cost"]
    assert cost["preview"] is True and cost["breakdown"][0]["points"] == 651
    assert await upstream_requests(gateway) == 0
