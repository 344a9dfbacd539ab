"""Issue 15, items 1, 2, 3 and 5, as a hostile client with a legitimate low-privilege token tries them
against ``harmonia serve`` started as an operator would (its own secret, a subprocess), over real HTTP.

Every test here failed on main at f45b7f0 (20 of its 25 cases; the others are spellings that were
already safe, kept so that they stay so): an alias undid the analyst's masks, introspection through a
fragment showed the whole admin plane and its price counted hidden types, the admin plane answered
FORBIDDEN naming the admin role, errors named a denied field's inputs, ``customerByEmail`` confirmed
masked addresses, and any token could persist any text (invalid, oversized, unbounded in number and
time).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis

from harmonia.auth.tokens import mint_token
from tests.servers import Servers

SECRET = secrets.token_urlsafe(32)
ADMIN_PLANE = ("fieldPolicies", "policyAudit", "dryRunPolicy", "setFieldPolicy", "removeFieldPolicy",
               "evictCache", "fieldUsage", "FieldPolicy", "PolicyAuditEntry", "DryRunReport", "FieldUsageReport",
               "CacheEviction", "FieldPolicyInput")


@dataclass
class Gateway:
    url: str
    sim: str

    def post(self, body: dict[str, Any], *roles: str, sub: str = "hostile", **headers: str) -> httpx.Response:
        token = mint_token(SECRET, roles=list(roles), sub=sub, ttl=600)
        return httpx.post(f"{self.url}/graphql", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}", **headers})

    def query(self, query: str, *roles: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = self.post({"query": query, "variables": variables}, *roles).json()
        return body

    def upstream_requests(self) -> int:
        stats = httpx.get(f"{self.sim}/__stats", timeout=10).json()
        return sum(int(source["requests"]) for source in stats.values())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Servers, str]]:
    with Servers(tmp_path_factory.mktemp("hostile")) as running:
        yield running, running.simulators()


def operator_env(**extra: str) -> dict[str, str]:
    """What an operator sets: a secret of their own; the rest are the shipped defaults."""
    return {"HARMONIA_AUTH__JWT_SECRET": SECRET, **extra}


@pytest.fixture(scope="module")
def gateway(servers: tuple[Servers, str]) -> Gateway:
    running, sim = servers
    return Gateway(running.gateway(sim, operator_env(), name="gateway"), sim)


@pytest.fixture(scope="module")
def seeded(gateway: Gateway) -> dict[str, Any]:
    """A real customer of the simulators' seeded data, as an admin sees it (in clear)."""
    body = gateway.query("{ customers(first: 20) { edges { node { id email phone firstName } } } }", "admin")
    return next(e["node"] for e in body["data"]["customers"]["edges"] if e["node"]["phone"])


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", ())]


# --- item 1: nothing a client writes decides a mask ------------------------------------------------

@pytest.mark.parametrize("selection", [
    "_harmoniaTypename: firstName email phone",
    "__typename: firstName email phone",
    "email phone _harmoniaTypename: lastName",
    "typename: firstName email phone",
    "firstName: email lastName: phone",
    "_harmoniaTypename: email phone: phone",
])
def test_an_alias_never_undoes_the_analysts_masks(gateway: Gateway, seeded: dict[str, Any], selection: str) -> None:
    query = f'{{ node(id: "{seeded["id"]}") {{ ... on Customer {{ {selection} }} }} }}'
    response = gateway.post({"query": query}, "analyst")

    assert seeded["email"] not in response.text.lower() and seeded["phone"] not in response.text
    values = response.json()["data"]["node"].values()
    assert any(isinstance(v, str) and v.startswith(seeded["email"][0]) and "***@" in v for v in values)
    assert "***" + seeded["phone"][-4:] in values


# --- item 2: each role's own schema, however it asks ------------------------------------------------

SCHEMA = ("__schema { queryType { fields { name } } mutationType { name fields { name } } "
          "types { name fields { name } } }")
SPELLINGS = {
    "named fragment": f"{{ ...Q }} fragment Q on Query {{ {SCHEMA} }}",
    "inline fragment": f"{{ ... on Query {{ {SCHEMA} }} }}",
    "untyped inline fragment": f"{{ ... {{ {SCHEMA} }} }}",
    "alias": f"{{ s: {SCHEMA} }}",
    "fragment in a fragment":
        f"{{ ...A }} fragment A on Query {{ ... on Query {{ ...B }} }} fragment B on Query {{ {SCHEMA} }}",
    "skipped plain spelling beside a fragment":
        f"{{ __typename @skip(if: true) ...Q }} fragment Q on Query {{ {SCHEMA} }}",
    "type lookup in a fragment": '{ ...T } fragment T on Query { __type(name: "Query") { name fields { name } } }',
}


def names_in(value: Any) -> set[str]:
    """Every string value of an introspection answer (type and field names among them)."""
    if isinstance(value, dict):
        return set().union(*(names_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(names_in(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) else set()


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_introspection_in_any_position_answers_from_the_roles_own_schema(gateway: Gateway, spelling: str) -> None:
    analyst = gateway.query(SPELLINGS[spelling], "analyst")
    support = gateway.query(SPELLINGS[spelling], "support")
    admin = gateway.query(SPELLINGS[spelling], "admin")

    assert "fieldPolicies" in names_in(admin["data"])  # the admins' own schema has the plane
    for body in (analyst, support):
        assert "errors" not in body, body
        assert not names_in(body["data"]) & set(ADMIN_PLANE)
    if "__schema" in SPELLINGS[spelling]:
        campaign = next(t for t in support["data"][next(iter(support["data"]))]["types"] if t["name"] == "Campaign")
        assert {"name", "channel"} <= {f["name"] for f in campaign["fields"]}
        assert "stats" not in {f["name"] for f in campaign["fields"]}
        assert not {"CampaignStats", "AnalyticsSummary"} & names_in(support["data"])


def test_the_price_of_introspection_tells_nothing_it_does_not_show(gateway: Gateway) -> None:
    def cost(query: str, role: str) -> int:
        body = gateway.query(query, role)
        assert "errors" not in body, body
        return int(body["extensions"]["cost"]["requestedQueryCost"])

    for role in ("analyst", "support"):
        assert cost('{ __type(name: "FieldPolicy") { name } }', role) == cost('{ __type(name: "Nope") { name } }', role)
        types = gateway.query("{ __schema { types { name } } }", role)["data"]["__schema"]["types"]
        assert cost("{ __schema { types { name } } }", role) == 1 + len(types)
    assert cost('{ __type(name: "FieldPolicy") { name } }', "admin") == 1


@pytest.mark.parametrize("query", ["{ fieldPolicies { typeName } }", "{ f: fieldUsage { hours } }",
                                   "mutation { evictCache(type: ORDER) { evicted } }",
                                   "{ ...P } fragment P on FieldPolicy { typeName }"])
def test_the_admin_plane_is_not_there_for_anyone_else(gateway: Gateway, query: str) -> None:
    for role in ("analyst", "support", "marketer"):
        response = gateway.post({"query": query}, role)
        body = response.json()
        assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, body
        assert "requiredRoles" not in response.text and "admin" not in response.text
        assert body.get("data") is None


def test_suggestions_never_name_what_the_role_may_not_see(servers: tuple[Servers, str]) -> None:
    running, sim = servers
    dev = Gateway(running.gateway(sim, operator_env(HARMONIA_DEV_MODE="true"), name="dev-gateway"), sim)

    probes = {"analyst": ["{ fieldPolicie { typeName } }", "mutation { evictCach(type: ORDER) { evicted } }",
                          "{ fieldUsag { hours } }"],
              "support": ["{ campaigns { edges { node { stat { clicks } } } } }", "{ analytic { rowCount } }"]}
    hidden = {"analyst": ADMIN_PLANE, "support": (*ADMIN_PLANE, "stats", "analytics")}
    for role, queries in probes.items():
        for query in queries:
            body = dev.query(query, role)
            assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"], body
            for name in hidden[role]:
                assert f"'{name}'" not in body["errors"][0]["message"], body
    # Suggestions themselves still help with what the role does see.
    typo = dev.query("{ campaigns { edges { node { nam } } } }", "support")
    assert "'name'" in typo["errors"][0]["message"]


def test_a_bad_variable_for_a_denied_field_names_nothing_the_role_may_not_read(gateway: Gateway) -> None:
    query = "query($r: DateRangeInput!) { campaigns(first: 1) { edges { node { stats(dateRange: $r) { clicks } } } } }"
    for value in ({"endDate": "2026-01-31"}, {"startDat": "2026-01-01", "endDate": "2026-01-31"}):
        response = gateway.post({"query": query, "variables": {"r": value}}, "support")
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "startDate" not in response.text, response.text


# --- item 3: no lookup by a value the role reads masked ------------------------------------------------

def test_the_analyst_cannot_confirm_a_masked_email_by_looking_it_up(gateway: Gateway, seeded: dict[str, Any]) -> None:
    before = gateway.upstream_requests()
    literal = gateway.query(f'{{ customerByEmail(email: "{seeded["email"]}") {{ firstName }} }}', "analyst")
    variable = gateway.query("query($e: String!) { hit: customerByEmail(email: $e) { id } }", "analyst",
                             variables={"e": seeded["email"]})
    miss = gateway.query('{ customerByEmail(email: "nobody@nowhere.example") { firstName } }', "analyst")
    after = gateway.upstream_requests()

    for body, key in ((literal, "customerByEmail"), (variable, "hit"), (miss, "customerByEmail")):
        assert body["data"] == {key: None}
        [error] = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert {"marketer", "support"} <= set(error["extensions"]["requiredRoles"])
    assert after == before  # refused before any upstream call: a hit and a miss look the same
    found = gateway.query(f'{{ customerByEmail(email: "{seeded["email"]}") {{ firstName }} }}', "marketer")
    assert found["data"]["customerByEmail"]["firstName"] == seeded["firstName"]


# --- item 5: persisted queries are stored only once they pass -------------------------------------------

def apq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(text.encode()).hexdigest()}}


def stored(gateway: Gateway, text: str) -> bool:
    body = gateway.post({"extensions": apq(text)}, "admin").json()
    return not any(e.get("extensions", {}).get("persistedQuery") == "PersistedQueryNotFound"
                   for e in body.get("errors", ()))


def test_a_persisted_query_is_stored_only_after_it_passes_for_its_caller(gateway: Gateway) -> None:
    refused = {
        "does not parse": ("{ customers(first: 1) { edges ", "analyst"),
        "does not validate": ("{ nope }", "analyst"),
        "hidden from the caller": ("{ fieldPolicies { typeName } }", "analyst"),
        "over the limits": ("{ " + " ".join(f"a{i}: customers(first: 1) {{ pageInfo {{ hasNextPage }} }}"
                                            for i in range(20)) + " }", "marketer"),
    }
    for why, (text, role) in refused.items():
        response = gateway.post({"query": text, "extensions": apq(text)}, role)
        assert response.json()["errors"], why
        assert not stored(gateway, text), why
    good = "{ campaigns(first: 1) { edges { node { name } } } }"
    assert "errors" not in gateway.post({"query": good, "extensions": apq(good)}, "analyst").json()
    assert stored(gateway, good)


def test_an_oversized_text_runs_but_is_never_stored(gateway: Gateway) -> None:
    text = "{ campaigns(first: 1) { edges { node { name } } } }\n#" + "x" * 100_000
    response = gateway.post({"query": text, "extensions": apq(text)}, "analyst")

    assert response.status_code == 200 and response.json()["data"]["campaigns"]["edges"]
    assert not stored(gateway, text)


def test_each_client_registers_only_so_many_operations(servers: tuple[Servers, str]) -> None:
    running, sim = servers
    gateway = Gateway(running.gateway(sim, operator_env(HARMONIA_PERSISTED_QUERIES__REGISTRATIONS_PER_HOUR="3"),
                                      name="budget-gateway"), sim)
    texts = [f"{{ campaigns(first: {n}) {{ edges {{ node {{ name }} }} }} }}" for n in range(1, 6)]

    for text in texts:
        assert "errors" not in gateway.post({"query": text, "extensions": apq(text)}, "analyst", sub="spammer").json()
    other = "{ orders(first: 1) { edges { node { name } } } }"
    gateway.post({"query": other, "extensions": apq(other)}, "analyst", sub="someone-else")

    assert [stored(gateway, t) for t in texts] == [True, True, True, False, False]
    assert stored(gateway, other)  # the budget is per client


def test_a_registration_lives_a_bounded_time_in_redis(servers: tuple[Servers, str], redis_url: str) -> None:
    running, sim = servers
    database = redis_url.rsplit("/", 1)[0] + "/6"
    redis.Redis.from_url(database).flushdb()
    gateway = Gateway(running.gateway(sim, operator_env(HARMONIA_REDIS_URL=database), name="redis-gateway"), sim)
    text = "{ campaigns(first: 2) { edges { node { name } } } }"

    assert "errors" not in gateway.post({"query": text, "extensions": apq(text)}, "analyst").json()

    client = redis.Redis.from_url(database)
    [key] = client.keys("*pq*" + hashlib.sha256(text.encode()).hexdigest())
    assert 0 < client.pttl(key) <= 24 * 3600 * 1000  # a day by default, never the 7 days it was
    assert client.get(key) == text.encode()
    client.flushdb()
    client.close()
