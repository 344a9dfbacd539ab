"""Fields a policy marks hidden do not exist for who may not read them; lookups by a value need it in clear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import get_introspection_query

from harmonia.simulators.core import SimulatorState
from tests.conftest import gateway_over
from tests.schema.test_field_access import policy_with

PHONES = "{ customers(first: 3) { edges { node { firstName phone } } } }"


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", ())]


def fields(body: dict[str, Any], type_name: str) -> set[str]:
    types = {t["name"]: t for t in body["data"]["__schema"]["types"]}
    return {f["name"] for f in types[type_name]["fields"] or ()} if type_name in types else set()


async def test_a_hidden_field_is_a_validation_error_for_who_may_not_read_it(
    fast_sim_state: SimulatorState, tmp_path: Path
) -> None:
    path = policy_with(tmp_path, {"Customer": {"read": ["marketer", "analyst", "support"], "fields": {
        "phone": {"read": ["marketer"], "hidden": True}, "lastName": {"read": ["marketer"]}}}})
    async with gateway_over(fast_sim_state, auth={"policy_file": path}) as gw:
        analyst = await gw.query(PHONES, role="analyst")
        calls = sum(s["requests"] for s in (await gw.sim_stats()).values())
        denied = await gw.query("{ customers(first: 3) { edges { node { firstName lastName } } } }", role="analyst")
        marketer = await gw.query(PHONES, role="marketer")
        seen = await gw.query(get_introspection_query(), role="analyst")

    assert codes(analyst) == ["GRAPHQL_VALIDATION_FAILED"] and "data" not in analyst
    assert analyst["errors"][0]["message"] == "Cannot query field 'phone' on type 'Customer'."
    # Not hidden, only denied: null with FORBIDDEN and the roles that would do.
    assert set(codes(denied)) == {"FORBIDDEN"} and denied["errors"][0]["extensions"]["requiredRoles"]
    assert any(e["node"]["phone"] for e in marketer["data"]["customers"]["edges"])
    assert {"firstName", "email"} <= fields(seen, "Customer") and not {"phone", "lastName"} & fields(seen, "Customer")
    assert calls == 0  # refused before any upstream call


async def test_a_hidden_type_takes_every_field_leading_to_it_along(
    fast_sim_state: SimulatorState, tmp_path: Path
) -> None:
    path = policy_with(tmp_path, {"Campaign": {"read": ["marketer"], "hidden": True}})
    async with gateway_over(fast_sim_state, auth={"policy_file": path}) as gw:
        support = await gw.query("{ campaigns(first: 1) { totalCount } }", role="support")
        through_orders = await gw.query("{ orders(first: 1) { edges { node { name campaign { id } } } } }",
                                        role="support")
        marketer = await gw.query("{ campaigns(first: 1) { totalCount } }", role="marketer")
    assert codes(support) == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes(through_orders) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "errors" not in marketer


async def test_a_lookup_argument_is_refused_to_roles_that_read_the_searched_field_masked(
    fast_sim_state: SimulatorState, tmp_path: Path
) -> None:
    # A contrived lookup (the cursor "searches" emails) on an optional argument of a field everyone reads.
    path = policy_with(tmp_path, {"Query": {"read": "*", "fields": {"customers": {"searches": {"after":
                                                                                               "Customer.email"}}}}})
    page = "query($after: String) { customers(first: 2, after: $after) { edges { node { id } } } }"
    async with gateway_over(fast_sim_state, auth={"policy_file": path}) as gw:
        without = await gw.query("{ customers(first: 2) { edges { node { id } } } }", role="analyst")
        literal = await gw.query('{ customers(first: 2, after: "x") { edges { node { id } } } }', role="analyst")
        variable = await gw.query(page, {"after": None}, role="analyst")  # a variable counts, whatever its value
        null = await gw.query("{ customers(first: 2, after: null) { edges { node { id } } } }", role="analyst")
        marketer = await gw.query(page, {"after": None}, role="marketer")
        seen = await gw.query('{ __type(name: "Query") { fields { name args { name } } } }', role="analyst")

    assert "errors" not in without and "errors" not in null and "errors" not in marketer
    for body in (literal, variable):
        [error] = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN" and error["extensions"]["searchedField"] == "Customer.email"
        assert error["message"].startswith("Not allowed to look up Query.customers by Customer.email")
    customers = next(f for f in seen["data"]["__type"]["fields"] if f["name"] == "customers")
    assert [a["name"] for a in customers["args"]] == ["first"]  # the refused argument is not in its schema
    by_email = [f for f in seen["data"]["__type"]["fields"] if f["name"] == "customerByEmail"]
    assert by_email == []  # its one argument is a lookup the analyst may not make
