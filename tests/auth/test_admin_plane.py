"""The admin plane over GraphQL (one gateway, overlays in process): change, audit, dry-run, admins only."""

from __future__ import annotations

from typing import Any

from tests.conftest import Gateway, token_for

STATS = "{ campaigns(first: 2) { edges { node { name stats { clicks } } } } }"
SET_STATS_FOR_SUPPORT = """mutation {
  setFieldPolicy(input: {typeName: "Campaign", fieldName: "stats",
                         read: [{roles: ["marketer"]}, {roles: ["analyst"]}, {roles: ["support"]}]}) {
    typeName fieldName readSummary source readers { role access }
  }
}"""
AUDIT = "{ policyAudit(last: 10) { version at actor action typeName fieldName before { summary } after { summary } } }"


def codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors", ())}


async def test_an_admin_opens_a_field_to_a_role_and_the_change_is_audited(gateway: Gateway) -> None:
    assert codes(await gateway.query(STATS, role="support")) == {"FORBIDDEN"}

    changed = await gateway.query(SET_STATS_FOR_SUPPORT, token=token_for("admin", sub="ada"))
    assert "errors" not in changed, changed
    policy = changed["data"]["setFieldPolicy"]
    assert policy["source"] == "OVERLAY" and policy["readSummary"] == "analyst | marketer | support"
    assert {"role": "support", "access": "READ"} in policy["readers"]

    opened = await gateway.query(STATS, role="support")
    assert "errors" not in opened
    assert all(e["node"]["stats"] is not None for e in opened["data"]["campaigns"]["edges"])

    removed = await gateway.query('mutation { removeFieldPolicy(typeName: "Campaign", fieldName: "stats") '
                                  "{ source readSummary } }", token=token_for("admin", sub="ada"))
    assert removed["data"]["removeFieldPolicy"] == {"source": "FIELD", "readSummary": "analyst | marketer"}
    assert codes(await gateway.query(STATS, role="support")) == {"FORBIDDEN"}

    audit = (await gateway.query(AUDIT))["data"]["policyAudit"]
    assert [(e["version"], e["action"], e["actor"]) for e in audit] == [(2, "remove", "ada"), (1, "set", "ada")]
    assert audit[1]["before"]["summary"] == "read: analyst | marketer"       # the file's rule
    assert audit[1]["after"]["summary"] == "read: analyst | marketer | support"
    assert audit[0]["after"] is None and audit[1]["at"].endswith("Z")


async def test_the_admin_plane_does_not_exist_for_non_admins(gateway: Gateway) -> None:
    # Hidden, not forbidden: a plain validation error, with no roles named (issue 15).
    for role in ("marketer", "analyst", "support"):
        mutation = await gateway.query(SET_STATS_FOR_SUPPORT, role=role)
        assert codes(mutation) == {"GRAPHQL_VALIDATION_FAILED"} and mutation.get("data") is None
        assert "requiredRoles" not in str(mutation)
        # Told as its own schema has it: the analyst may run no mutation at all.
        assert mutation["errors"][0]["message"] == ("The mutation operation is not supported by the schema."
                                                    if role == "analyst" else
                                                    "Cannot query field 'setFieldPolicy' on type 'Mutation'.")
        listing = await gateway.query("{ fieldPolicies { typeName } }", role=role)
        assert codes(listing) == {"GRAPHQL_VALIDATION_FAILED"}
        audit = await gateway.query(AUDIT, role=role)
        assert codes(audit) == {"GRAPHQL_VALIDATION_FAILED"}
    # Nothing changed and nothing was recorded.
    assert (await gateway.query(AUDIT))["data"]["policyAudit"] == []
    assert codes(await gateway.query(STATS, role="support")) == {"FORBIDDEN"}


async def test_field_policies_show_the_matrix_of_rules_masks_and_roles(gateway: Gateway) -> None:
    body = await gateway.query('{ fieldPolicies(typeName: "Customer") '
                               "{ fieldName readSummary source mask readers { role access } } }")
    rows = {r["fieldName"]: r for r in body["data"]["fieldPolicies"]}
    email = rows["email"]
    assert email["mask"] == "email" and email["source"] == "TYPE"
    access = {r["role"]: r["access"] for r in email["readers"]}
    assert access == {"admin": "READ", "analyst": "MASKED", "marketer": "READ", "support": "READ"}
    everything = await gateway.query("{ fieldPolicies { typeName fieldName } }")
    types = {r["typeName"] for r in everything["data"]["fieldPolicies"]}
    assert {"Customer", "Order", "Campaign", "CampaignStats"} <= types
    assert not types & {"FieldPolicy", "PolicyAuditEntry"}  # the admin plane is not for editing
    assert not any(r["fieldName"] in ("setFieldPolicy", "fieldPolicies") for r in everything["data"]["fieldPolicies"])


async def test_bad_changes_are_bad_user_input_and_change_nothing(gateway: Gateway) -> None:
    for change in ('{typeName: "Customer", fieldName: "emial", read: [{roles: ["x"]}]}',
                   '{typeName: "Customer", fieldName: "ordersCount", mask: "email"}',
                   '{typeName: "Order", fieldName: "name", mask: "redact"}',
                   '{typeName: "Customer", fieldName: "email", clear: [{roles: ["x"]}]}',
                   '{typeName: "Query", fieldName: "fieldPolicies", read: [{}]}'):
        body = await gateway.query(f"mutation {{ setFieldPolicy(input: {change}) {{ typeName }} }}")
        assert codes(body) == {"BAD_USER_INPUT"}, change
    assert (await gateway.query(AUDIT))["data"]["policyAudit"] == []


async def test_a_dry_run_lists_the_fields_that_would_change_and_for_whom(gateway: Gateway) -> None:
    contacts = "{ customers(first: 2) { edges { node { email firstName } } } }"
    await gateway.query(contacts, token=token_for("analyst", sub="ana"))
    await gateway.query(contacts, token=token_for("support", sub="sam"))
    await gateway.query(contacts, token=token_for("marketer", sub="max"))
    await gateway.query(STATS, token=token_for("support", sub="sam"))

    body = await gateway.query("""{ dryRunPolicy(last: 10, changes: [
        {typeName: "Customer", fieldName: "email", read: [{roles: ["marketer"]}]},
        {typeName: "Campaign", fieldName: "stats", read: [{roles: ["support"]}]}]) {
      operationsReplayed impacts { typeName fieldName change roles subjects operations } } }""")
    report = body["data"]["dryRunPolicy"]
    assert report["operationsReplayed"] == 4
    impacts = {(i["typeName"], i["fieldName"], i["change"]): i for i in report["impacts"]}
    assert impacts[("Customer", "email", "DENIED")]["roles"] == ["analyst", "support"]
    assert impacts[("Customer", "email", "DENIED")]["subjects"] == ["ana", "sam"]
    assert impacts[("Campaign", "stats", "ALLOWED")]["subjects"] == ["sam"]
    assert len(impacts) == 2
    # A dry run changes nothing.
    assert codes(await gateway.query(STATS, role="support")) == {"FORBIDDEN"}
    assert (await gateway.query(AUDIT))["data"]["policyAudit"] == []


async def test_a_dry_run_may_replay_more_operations_than_a_page_holds(gateway: Gateway) -> None:
    # dryRunPolicy's `last` counts operations to replay, not a page: max_page_size (100) is not its bound.
    await gateway.query(STATS, token=token_for("support", sub="sam"))
    body = await gateway.query('{ dryRunPolicy(last: 500, changes: [{typeName: "Campaign", fieldName: "stats", '
                               'read: [{roles: ["support"]}]}]) { operationsReplayed } }')
    assert "errors" not in body, body
    assert body["data"]["dryRunPolicy"]["operationsReplayed"] == 1
    # A page still is bounded.
    assert codes(await gateway.query("{ customers(first: 500) { edges { cursor } } }")) == {"BAD_USER_INPUT"}


async def test_evicting_the_cache_is_the_policy_admins_alone(gateway: Gateway) -> None:
    evict = "mutation { evictCache(type: ORDER) { evicted } }"
    for role in ("marketer", "support"):  # both may write through Mutation, not evict: it is not there for them
        body = await gateway.query(evict, role=role)
        assert codes(body) == {"GRAPHQL_VALIDATION_FAILED"} and body.get("data") is None
    assert "errors" not in await gateway.query(evict, role="admin")
    rows = (await gateway.query("{ fieldPolicies(typeName: \"Mutation\") { fieldName } }"))["data"]["fieldPolicies"]
    assert {"updateCustomer", "eraseCustomer"} <= {r["fieldName"] for r in rows}
    assert "evictCache" not in {r["fieldName"] for r in rows}  # not the policy's to give away


async def test_the_operators_types_are_not_rows_of_the_policy_matrix(gateway: Gateway) -> None:
    rows = (await gateway.query("{ fieldPolicies { typeName fieldName } }"))["data"]["fieldPolicies"]
    types = {r["typeName"] for r in rows}
    assert not types & {"CacheEviction", "FieldUsageReport", "FieldUsage"}
    assert ("Query", "fieldUsage") not in {(r["typeName"], r["fieldName"]) for r in rows}
    body = await gateway.query("{ fieldUsage(hours: 1) { hours } }", role="marketer")
    assert codes(body) == {"GRAPHQL_VALIDATION_FAILED"} and "requiredRoles" not in str(body)


async def test_field_policies_show_which_fields_are_lookups_and_which_are_hidden(gateway: Gateway) -> None:
    body = await gateway.query('{ fieldPolicies(typeName: "Query") { fieldName hidden searches } }')
    rows = {r["fieldName"]: r for r in body["data"]["fieldPolicies"]}
    assert rows["customerByEmail"] == {"fieldName": "customerByEmail", "hidden": False,
                                       "searches": ["email -> Customer.email"]}
    assert rows["customers"]["searches"] == [] and not any(r["hidden"] for r in rows.values())
