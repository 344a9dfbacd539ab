"""Field access decided once per operation: masks, null + FORBIDDEN with the reason, pruned subtrees."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
import yaml

from harmonia.auth.policy_file import demo_policy_text
from harmonia.simulators.core import SimulatorState
from tests.conftest import Gateway, gateway_over, token_for

ORDERS_WITH_CUSTOMERS = """{
  orders(first: 5) { edges { node { name totalPrice { amount currencyCode } customer { email firstName } } } }
  customers(first: 3) { edges { node { id email phone firstName lastName } } }
}"""

GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


def policy_with(tmp_path: Path, changes: dict[str, Any]) -> str:
    """The demo policy with some type entries replaced, written to a file."""
    data = yaml.safe_load(demo_policy_text())
    data["types"].update(changes)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def gateway_with(fast_sim_state: SimulatorState) -> GatewayFactory:
    def make(**overrides: Any) -> AbstractAsyncContextManager[Gateway]:
        return gateway_over(fast_sim_state, **overrides)
    return make


@pytest.fixture
async def strict(gateway_with: GatewayFactory, tmp_path: Path) -> AsyncIterator[Gateway]:
    """The demo policy, except that only marketers and support see an order's customer."""
    path = policy_with(tmp_path, {"Order": {"read": ["marketer", "analyst", "support"],
                                            "fields": {"customer": {"read": ["marketer", "support"]}}}})
    # The entity cache off: each query's upstream calls then show what that query itself fetched.
    async with gateway_with(auth={"policy_file": path}, cache={"enabled": False}) as gw:
        yield gw


async def test_analyst_gets_masks_a_forbidden_subtree_null_with_the_reason_and_everything_else(
    strict: Gateway,
) -> None:
    admin = await strict.query(ORDERS_WITH_CUSTOMERS, role="admin")
    calls_before = await strict.sim_stats()
    analyst = await strict.query(ORDERS_WITH_CUSTOMERS, role="analyst")
    calls_after = await strict.sim_stats()

    # The forbidden subtree: one null + FORBIDDEN per order, naming what would have been enough.
    errors = analyst["errors"]
    assert [e["path"] for e in errors] == [["orders", "edges", i, "node", "customer"] for i in range(5)]
    for error in errors:
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["extensions"]["requiredRoles"] == ["admin", "marketer", "support"]
        assert error["message"] == "Not allowed to read Order.customer"
    # No HubSpot lookup for the orders' customers: only the customers list ran there.
    hubspot = {route: n - calls_before["hubspot"]["by_route"].get(route, 0)
               for route, n in calls_after["hubspot"]["by_route"].items()}
    assert {r: n for r, n in hubspot.items() if n} == {"GET /crm/objects/2026-09/contacts": 1}

    # Every other field is what the admin sees, except the masked contact data.
    for a, b in zip(admin["data"]["orders"]["edges"], analyst["data"]["orders"]["edges"], strict=True):
        assert b["node"] == {**a["node"], "customer": None}
        assert list(b["node"]) == ["name", "totalPrice", "customer"]  # selection order kept
    for a, b in zip(admin["data"]["customers"]["edges"], analyst["data"]["customers"]["edges"], strict=True):
        email = a["node"]["email"]
        assert b["node"]["email"] == f"{email[0]}***@{email.split('@')[1]}" != email
        if a["node"]["phone"]:
            assert b["node"]["phone"] == "***" + a["node"]["phone"][-4:]
        assert {k: v for k, v in b["node"].items() if k not in ("email", "phone")} == \
            {k: v for k, v in a["node"].items() if k not in ("email", "phone")}


async def test_a_role_with_no_access_to_a_root_field_causes_no_upstream_call(gateway: Gateway) -> None:
    body = await gateway.query('{ analytics(dateRange: {startDate: "2026-01-01", endDate: "2026-01-31"}, '
                               'dimensions: ["date"], metrics: ["sessions"]) { rowCount rows { metrics } } }',
                               role="support")
    [error] = body["errors"]
    assert error["path"] == ["analytics"] and error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["requiredRoles"] == ["admin", "analyst", "marketer"]
    assert body["data"] is None  # analytics is non-null: GraphQL's null propagation reaches the root
    assert (await gateway.sim_stats())["ga4"]["requests"] == 0


async def test_a_denied_non_null_field_nulls_its_nearest_nullable_parent(
    gateway_with: GatewayFactory, tmp_path: Path
) -> None:
    path = policy_with(tmp_path, {"Campaign": {"read": ["marketer", "analyst", "support"],
                                               "fields": {"name": {"read": ["marketer"]}}}})
    async with gateway_with(auth={"policy_file": path}) as gw:
        query = "{ orders(first: 40) { edges { node { name campaign { name channel } } } } }"
        admin = await gw.query(query)
        analyst = await gw.query(query, role="analyst")
    attributed = [i for i, e in enumerate(admin["data"]["orders"]["edges"]) if e["node"]["campaign"]]
    assert attributed, "the seeded orders include some with a campaign"
    for i, edge in enumerate(analyst["data"]["orders"]["edges"]):
        assert edge["node"]["name"] == admin["data"]["orders"]["edges"][i]["node"]["name"]
        assert edge["node"]["campaign"] is None  # Campaign.name is String!: the campaign itself is null
    assert [e["path"] for e in analyst["errors"]] == \
        [["orders", "edges", i, "node", "campaign", "name"] for i in attributed]


async def test_masks_and_denials_follow_the_runtime_type_through_fragments(gateway: Gateway) -> None:
    listed = await gateway.query("{ customers(first: 1) { edges { node { id email } } } "
                                 "campaigns(first: 1) { edges { node { id } } } }")
    customer = listed["data"]["customers"]["edges"][0]["node"]
    campaign_id = listed["data"]["campaigns"]["edges"][0]["node"]["id"]
    query = """query($c: ID!, $k: ID!) {
      c: node(id: $c) { id ...Contact ... on Campaign { name stats { clicks } } }
      k: node(id: $k) { id ...Contact ... on Campaign { name stats { clicks } } }
    }
    fragment Contact on Customer { email }"""
    analyst = await gateway.query(query, {"c": customer["id"], "k": campaign_id}, role="analyst")
    support = await gateway.query(query, {"c": customer["id"], "k": campaign_id}, role="support")

    email = customer["email"]
    assert analyst["data"]["c"] == {"id": customer["id"], "email": f"{email[0]}***@{email.split('@')[1]}"}
    assert analyst["data"]["k"]["stats"] is not None and "errors" not in analyst
    assert support["data"]["c"] == {"id": customer["id"], "email": email}  # support reads contacts in clear
    assert support["data"]["k"]["name"] and support["data"]["k"]["stats"] is None
    [error] = support["errors"]
    assert error["path"] == ["k", "stats"] and error["extensions"]["code"] == "FORBIDDEN"
    assert "_harmoniaTypename" not in str(analyst) + str(support)


async def test_all_of_sets_need_every_role_and_scope(gateway_with: GatewayFactory, tmp_path: Path) -> None:
    path = policy_with(tmp_path, {"CampaignStats": {"read": [{"roles": ["analyst"], "scopes": ["reports:read"]},
                                                             "marketer"]}})
    query = "{ campaigns(first: 1) { edges { node { name stats { clicks } } } } }"
    async with gateway_with(auth={"policy_file": path}) as gw:
        without = await gw.query(query, token=token_for("analyst"))
        with_scope = await gw.query(query, token=token_for("analyst", scopes=["reports:read"]))
    [error] = without["errors"]
    assert error["extensions"]["requiredScopes"] == ["reports:read"]
    assert {"roles": [], "scopes": ["reports:read"]} in error["extensions"]["missing"]
    assert "errors" not in with_scope and with_scope["data"]["campaigns"]["edges"][0]["node"]["stats"]


async def test_reject_unauthorized_rejects_the_whole_operation_before_any_upstream_call(
    gateway_with: GatewayFactory,
) -> None:
    async with gateway_with(auth={"reject_unauthorized": True}) as gw:
        response = await gw.post("{ campaigns(first: 2) { edges { node { name stats { clicks } } } } }",
                                 role="support")
        allowed = await gw.query("{ campaigns(first: 2) { edges { node { name } } } }", role="support")
        calls = sum(s["requests"] for s in (await gw.sim_stats()).values())
    assert response.status_code == 403
    body = response.json()
    assert "data" not in body or body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["campaigns", "edges", "node", "stats"]
    assert body["extensions"]["cost"]["actualQueryCost"] == 0
    assert "errors" not in allowed
    assert calls == 1  # only the allowed query ran: one Mailchimp campaign list


async def test_denied_fields_are_not_charged_in_the_actual_cost(gateway: Gateway) -> None:
    query = "{ campaigns(first: 3) { edges { node { name stats { clicks } } } } }"
    marketer = await gateway.query(query, role="marketer")
    support = await gateway.query(query, role="support")  # stats: null + FORBIDDEN
    assert marketer["extensions"]["cost"]["requestedQueryCost"] == support["extensions"]["cost"]["requestedQueryCost"]
    weight = 2  # Campaign.stats in the default limits.field_weights
    assert support["extensions"]["cost"]["actualQueryCost"] == \
        marketer["extensions"]["cost"]["actualQueryCost"] - weight * 3
    assert {e["path"][-1] for e in support["errors"]} == {"stats"}


async def test_a_wholly_denied_operation_runs_nothing_and_spends_nothing(gateway_with: GatewayFactory) -> None:
    mutation = 'mutation { updateCampaignStatus(id: "Q2FtcGFpZ246Z29vZ2xlYWRzOjE0OA", action: "PAUSE") { replayed } }'
    # A bucket that barely refills: whatever the operation spent would still be missing.
    async with gateway_with(limits={"budget_maximum": 100, "budget_restore_rate": 0.001}) as gw:
        body = await gw.query(mutation, role="analyst")  # analysts may not write at all
        upstream = sum(gw.upstream_calls().values())
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] > 10 and cost["actualQueryCost"] == 0  # not even a mutation's base cost
    assert cost["throttleStatus"]["currentlyAvailable"] == 100
    assert upstream == 0
