"""Introspection shows a principal only what it may read: masked fields present, forbidden ones absent."""

from __future__ import annotations

from typing import Any

from graphql import build_client_schema, get_introspection_query

from tests.conftest import Gateway, token_for

INTROSPECTION = get_introspection_query(descriptions=True)


def fields_of(body: dict[str, Any]) -> dict[str, set[str]]:
    return {t["name"]: {f["name"] for f in t["fields"] or ()} for t in body["data"]["__schema"]["types"]
            if t["kind"] in ("OBJECT", "INTERFACE") and not t["name"].startswith("__")}


async def test_introspection_as_analyst_lacks_the_forbidden_fields_and_keeps_the_masked_ones(
    gateway: Gateway,
) -> None:
    admin = await gateway.query(INTROSPECTION, role="admin")
    analyst = await gateway.query(INTROSPECTION, role="analyst")
    support = await gateway.query(INTROSPECTION, role="support")
    assert "errors" not in analyst and "errors" not in support

    full, seen_by_analyst, seen_by_support = fields_of(admin), fields_of(analyst), fields_of(support)
    assert {"email", "phone", "totalSpent"} <= seen_by_analyst["Customer"]   # masked, but readable
    assert full["Customer"] == seen_by_analyst["Customer"]
    assert "fieldPolicies" in full["Query"] and "fieldPolicies" not in seen_by_analyst["Query"]
    assert "Mutation" in full and "Mutation" not in seen_by_analyst
    assert "FieldPolicy" in full and "FieldPolicy" not in seen_by_analyst
    assert analyst["data"]["__schema"]["mutationType"] is None
    # support: no campaign stats or analytics, and no type that only they lead to
    assert {"name", "channel", "status"} <= seen_by_support["Campaign"]
    assert not {"stats", "analytics"} & seen_by_support["Campaign"]
    assert not {"CampaignStats", "AnalyticsSummary", "AnalyticsReport"} & set(seen_by_support)
    assert "analytics" not in seen_by_support["Query"]
    # Each filtered answer is itself a valid schema a client can build (GraphiQL does exactly this).
    for body in (analyst, support):
        build_client_schema(body["data"])


async def test_type_lookups_answer_for_the_principal_too(gateway: Gateway) -> None:
    query = '{ __type(name: "Campaign") { fields { name } } }'
    support = await gateway.query(query, role="support")
    assert "stats" not in {f["name"] for f in support["data"]["__type"]["fields"]}
    hidden = await gateway.query('{ __type(name: "CampaignStats") { name } }', role="support")
    assert hidden["data"]["__type"] is None


async def test_a_token_that_may_read_nothing_gets_forbidden_not_a_schema(gateway: Gateway) -> None:
    body = await gateway.query(INTROSPECTION, token=token_for("intern"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_admins_policy_change_reaches_the_roles_own_schema_at_once(gateway: Gateway) -> None:
    query = '{ __type(name: "Campaign") { fields { name } } stats: __type(name: "CampaignStats") { name } }'
    before = await gateway.query(query, role="support")
    opened = await gateway.query('mutation { setFieldPolicy(input: {typeName: "Campaign", fieldName: "stats", '
                                 'read: [{roles: ["marketer"]}, {roles: ["analyst"]}, {roles: ["support"]}]}) '
                                 "{ source } }")
    after = await gateway.query(query, role="support")

    assert "errors" not in opened
    assert "stats" not in {f["name"] for f in before["data"]["__type"]["fields"]} and before["data"]["stats"] is None
    assert "stats" in {f["name"] for f in after["data"]["__type"]["fields"]}
    assert after["data"]["stats"] == {"name": "CampaignStats"}
