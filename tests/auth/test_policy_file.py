"""The policy file: the shipped demo policy is valid, invalid files are refused with their line and reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harmonia.auth.policy import Policy
from harmonia.auth.policy_file import DEMO_POLICY, PolicyError, demo_policy_text, dump_policy, load_policy, parse_policy
from harmonia.auth.rules import Lookup, Requirement, Rule
from harmonia.schema import build_schema
from harmonia.schema.catalog import catalog_of
from tests.conftest import TEST_SECRET_ENV

CATALOG = catalog_of(build_schema()._schema)
ROOT = Path(__file__).resolve().parents[2]


def decide(roles: set[str], type_name: str, field: str, scopes: set[str] | None = None) -> tuple[bool, str | None]:
    decision = DEMO_POLICY.access_for(frozenset(roles), frozenset(scopes or ())).decide(type_name, field)
    return decision.allowed, decision.mask


def test_the_shipped_demo_policy_is_valid_against_the_schema() -> None:
    assert load_policy(None, CATALOG).to_data() == DEMO_POLICY.to_data()


@pytest.mark.parametrize(("role", "type_name", "field", "expected"), [
    ("admin", "Customer", "email", (True, None)),
    ("admin", "Query", "fieldPolicies", (True, None)),
    ("marketer", "Customer", "email", (True, None)),
    ("marketer", "CampaignStats", "cost", (True, None)),
    ("marketer", "AnalyticsReport", "rows", (True, None)),
    ("analyst", "Customer", "email", (True, "email")),
    ("analyst", "Customer", "phone", (True, "phone")),
    ("analyst", "Customer", "firstName", (True, None)),
    ("analyst", "CustomerConnection", "edges", (True, None)),
    ("analyst", "Order", "customer", (True, None)),
    ("analyst", "Campaign", "stats", (True, None)),
    ("support", "Customer", "email", (True, None)),
    ("support", "Order", "totalPrice", (True, None)),
    ("support", "Campaign", "name", (True, None)),
    ("support", "Campaign", "stats", (False, None)),
    ("support", "Query", "analytics", (False, None)),
    ("analyst", "Query", "analytics", (True, None)),
    ("marketer", "Query", "fieldPolicies", (False, None)),
    ("intern", "Customer", "id", (False, None)),
])
def test_the_demo_policy_keeps_the_contract(role: str, type_name: str, field: str,
                                           expected: tuple[bool, str | None]) -> None:
    assert decide({role}, type_name, field) == expected


def test_several_roles_get_the_union_and_the_clearest_view() -> None:
    assert decide({"analyst", "support"}, "Customer", "email") == (True, None)
    assert decide({"analyst", "support"}, "Campaign", "stats") == (True, None)


def test_rules_are_any_of_lists_of_all_of_sets() -> None:
    rule = Rule.of(Requirement.of(roles=["analyst"], scopes=["reports"]), Requirement.of(roles=["cfo"]))
    assert rule.allows(frozenset({"analyst"}), frozenset({"reports"}))
    assert rule.allows(frozenset({"cfo"}), frozenset())
    assert not rule.allows(frozenset({"analyst"}), frozenset())
    assert not rule.allows(frozenset(), frozenset({"reports"}))


GOOD_HEAD = "version: 1\nadmins: [admin]\ndefault: deny\ntypes:\n"


@pytest.mark.parametrize(("body", "line", "reason"), [
    ("  Custmer: {read: [marketer]}\n", 5, "unknown type 'Custmer'"),
    ("  Customer:\n    fields:\n      emial: {mask: email}\n", 7, "unknown field Customer.emial"),
    ("  Customer:\n    fields:\n      email: {mask: blur}\n", 7, "unknown mask 'blur'"),
    ("  Customer:\n    fields:\n      ordersCount: {mask: email}\n", 7, "the email mask needs a String field"),
    ("  Order:\n    fields:\n      name: {mask: redact}\n", 7, "the field is non-null"),
    ("  Customer:\n    fields:\n      email: {clear: [marketer]}\n", 7, "the field has no mask"),
    ("  Customer:\n    reed: [marketer]\n", 6, "unknown key 'reed' in type Customer"),
    ("  Customer:\n    read: [{}]\n", 6, "names no role and no scope"),
    ("  Customer:\n    read: {roles: [a]}\n", 6, "must be \"*\", a role name or a list of alternatives"),
    ("  Mutation:\n    fields:\n      setFieldPolicy: {read: '*'}\n", 7, "admin plane"),
    ("  Query:\n    fields:\n      fieldPolicies: {read: '*'}\n", 7, "admin plane"),
    ("  Customer: {read: [marketer]\n", 6, "not valid YAML"),
    ("  Customer: {read: [marketer]}\n  Customer: {read: [analyst]}\n", 6, "'Customer' appears twice"),
    ("  Customer:\n    fields:\n      phone: {hidden: yes}\n", 7, "Customer.phone.hidden must be true or false"),
    ("  Customer:\n    hidden: 1\n", 6, "Customer.hidden must be true or false"),
    ("  Query:\n    fields:\n      customerByEmail: {searches: {emial: Customer.email}}\n", 7,
     "Query.customerByEmail has no argument 'emial'"),
    ("  Query:\n    fields:\n      customerByEmail: {searches: {email: Customer.emial}}\n", 7,
     "unknown field Customer.emial"),
    ("  Query:\n    fields:\n      customerByEmail: {searches: {email: email}}\n", 7,
     "must name a field as Type.field"),
    ("  Query:\n    fields:\n      customerByEmail: {searches: [email]}\n", 7, "must be a mapping"),
])
def test_an_invalid_policy_is_refused_with_the_line_and_the_reason(body: str, line: int, reason: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(GOOD_HEAD + body, "policy.yaml", CATALOG)
    message = str(caught.value)
    assert message.startswith(f"policy.yaml:{line}: "), message
    assert reason in message


def test_an_exported_policy_reads_back_the_same() -> None:
    again = parse_policy(dump_policy(DEMO_POLICY), "exported.yaml", CATALOG)
    assert again.to_data() == DEMO_POLICY.to_data()
    marked = parse_policy(GOOD_HEAD + "  Customer:\n    read: [marketer]\n    hidden: true\n    fields:\n"
                          "      phone: {hidden: true, mask: phone, clear: [marketer]}\n"
                          "  Query:\n    read: '*'\n    fields:\n"
                          "      customers: {searches: {after: Customer.email}}\n", "marked.yaml", CATALOG)
    again = parse_policy(dump_policy(marked), "exported.yaml", CATALOG)
    assert again.to_data() == marked.to_data()
    assert again.hidden == {("Customer", "phone")} and again.hidden_types == {"Customer"}
    assert {k.argument for k in again.lookups_of("Query", "customers")} == {"after"}


def test_the_customer_lookup_by_email_is_for_who_reads_emails_in_clear_whatever_the_file_says() -> None:
    silent = parse_policy(GOOD_HEAD + "  Query: {read: '*'}\n  Customer:\n    read: [marketer, analyst]\n"
                          "    fields:\n      email: {mask: email, clear: [marketer]}\n", "silent.yaml", CATALOG)
    for policy in (DEMO_POLICY, silent):
        [lookup] = policy.lookups_of("Query", "customerByEmail")
        assert lookup.searched == "Customer.email"

        def allowed(*roles: str, policy: Policy = policy, lookup: Lookup = lookup) -> bool:
            return policy.access_for(frozenset(roles)).decide_lookup(lookup).allowed

        assert allowed("marketer") and allowed("admin") and not allowed("analyst") and not allowed("intern")
    assert not DEMO_POLICY.access_for(frozenset({"analyst"})).decide(
        "Query", "customerByEmail").missing  # the field itself is readable: only the lookup is refused
    assert DEMO_POLICY.access_for(frozenset({"analyst", "support"})).decide_lookup(lookup).allowed
    refused = DEMO_POLICY.access_for(frozenset({"analyst"})).decide_lookup(lookup)
    assert refused.why()["requiredRoles"] == ["admin", "marketer", "support"]
    assert refused.why()["searchedField"] == "Customer.email"


def test_hidden_fields_and_the_admin_plane_do_not_exist_for_who_may_not_read_them() -> None:
    policy = parse_policy(GOOD_HEAD + "  Query: {read: '*'}\n  Customer:\n    read: [marketer, analyst]\n"
                          "    fields:\n      phone: {read: [marketer], hidden: true}\n"
                          "  Campaign:\n    read: [marketer]\n    hidden: true\n", "hidden.yaml", CATALOG)

    def hides(role: str, type_name: str, field: str) -> bool:
        return policy.access_for(frozenset({role})).hides(type_name, field)

    assert hides("analyst", "Customer", "phone") and not hides("marketer", "Customer", "phone")
    assert not hides("analyst", "Customer", "email")
    assert hides("analyst", "Campaign", "name") and hides("analyst", "CampaignConnection", "edges")
    assert not hides("marketer", "Campaign", "name")
    assert hides("marketer", "Query", "fieldPolicies") and not hides("admin", "Query", "fieldPolicies")


def test_serve_refuses_an_invalid_policy_file_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(demo_policy_text().replace("stats: {read: [marketer, analyst]}", "stats: {raed: [marketer]}"))
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
    env |= {"HARMONIA_AUTH__POLICY_FILE": str(bad), "PYTHONPATH": str(ROOT), **TEST_SECRET_ENV}
    done = subprocess.run([sys.executable, "-m", "harmonia.cli", "serve", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "raed" in text)
    assert f"{bad}:{line}: unknown key 'raed' in Campaign.stats" in done.stderr
    assert "Traceback" not in done.stderr
