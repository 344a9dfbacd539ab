"""The whole-response cache as a dashboard user meets it: a repeat is answered whole, never across roles,
never after what it contains was evicted or written, and not at all with the cache off."""

from __future__ import annotations

import asyncio
import time

import pytest

from harmonia.auth.fingerprint import policy_fingerprint
from harmonia.auth.principal import Principal
from harmonia.cache.responses import ResponseCache
from harmonia.resolvers.ids import encode_id
from harmonia.simulators.data import World
from tests.cache.conftest import MakeGateway
from tests.conftest import Gateway

ORDERS = ("{ orders(first: 50) { edges { node { name createdAt totalPrice { amount currencyCode } "
          "customer { email firstName lastName phone } } } } }")
CONTACTS = "{ customers(first: 20) { edges { node { id email phone } } } }"
CUSTOMER = "query($id: ID!) { customer(id: $id) { email lifecycleStage } }"
CAMPAIGNS = "{ campaigns(first: 5) { edges { node { name } } } }"
EVICT = "mutation($id: ID) { evictCache(type: CUSTOMER, id: $id) { evicted } }"


def responses(gw: Gateway) -> ResponseCache:
    cache: ResponseCache = gw.app.state.responses
    return cache


def forget_entities(gw: Gateway) -> None:
    """Empty the entity cache's tier 1 without an eviction: only a whole answer can still avoid the sources."""
    gw.app.state.cache.memory.clear()


async def first_customer_id(gw: Gateway) -> str:
    body = await gw.query("{ customers(first: 1) { edges { node { id } } } }")
    gid: str = body["data"]["customers"]["edges"][0]["node"]["id"]
    return gid


async def test_a_repeated_query_is_answered_whole_equal_to_the_first_with_no_upstream_call(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(redis=False, limits={"budget_maximum": 100_000, "budget_restore_rate": 1})
    cold = await gw.query(ORDERS)
    assert "errors" not in cold and gw.calls() == {"hubspot": 1, "shopify": 1}
    gw.reset_counts()
    forget_entities(gw)

    warm = await gw.query(ORDERS)

    assert gw.calls() == {}
    assert warm["data"] == cold["data"]
    # The contract still holds: the cost is reported and settled as if the query had run.
    cost, first = warm["extensions"]["cost"], cold["extensions"]["cost"]
    assert cost["requestedQueryCost"] == first["requestedQueryCost"]
    assert cost["actualQueryCost"] == first["actualQueryCost"] > 0
    assert cost["throttleStatus"]["currentlyAvailable"] < first["throttleStatus"]["currentlyAvailable"]


async def test_roles_that_see_different_masks_never_share_an_answer(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(redis=False)

    marketer = await gw.query(CONTACTS, role="marketer")
    analyst = await gw.query(CONTACTS, role="analyst")
    forget_entities(gw)
    gw.reset_counts()
    marketer_again = await gw.query(CONTACTS, role="marketer")
    analyst_again = await gw.query(CONTACTS, role="analyst")

    clear = [e["node"]["email"] for e in marketer["data"]["customers"]["edges"]]
    masked = [e["node"]["email"] for e in analyst["data"]["customers"]["edges"]]
    assert all("***" not in email for email in clear)
    assert all(email.count("***") == 1 for email in masked)
    assert not set(clear) & set(masked)
    assert marketer_again == {**marketer, "extensions": marketer_again["extensions"]}
    assert analyst_again["data"] == analyst["data"]
    assert gw.calls() == {}  # both answered whole, each from its own entry
    assert len(responses(gw)) == 2


async def test_the_fingerprint_is_the_role_set_whatever_the_order_or_subject() -> None:
    a = Principal("ana", roles=frozenset({"analyst", "support"}))
    b = Principal("bob", roles=frozenset({"support", "analyst"}))
    assert policy_fingerprint(a) == policy_fingerprint(b)
    assert policy_fingerprint(a) != policy_fingerprint(Principal("ana", roles=frozenset({"analyst"})))
    assert policy_fingerprint(Principal("x", roles=frozenset({"a,b"}))) != \
        policy_fingerprint(Principal("x", roles=frozenset({"a", "b"})))


async def test_evicting_a_customer_drops_the_answers_containing_it_and_keeps_the_others(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(redis=False)
    gid = await first_customer_id(gw)
    before = await gw.query(CUSTOMER, {"id": gid})
    await gw.query(CAMPAIGNS)
    assert len(responses(gw)) == 3  # the id lookup, the customer, the campaigns

    evicted = await gw.query(EVICT, {"id": gid})
    assert evicted["data"]["evictCache"]["evicted"] >= 1
    gw.reset_counts()
    forget_entities(gw)
    after = await gw.query(CUSTOMER, {"id": gid})
    customer_calls = gw.calls()
    gw.reset_counts()
    await gw.query(CAMPAIGNS)

    assert after["data"] == before["data"]
    assert customer_calls == {"hubspot": 1}, "the customer's answer outlived its eviction"
    assert gw.calls() == {}, "an answer that holds no customer was dropped too"


async def test_a_write_drops_the_cached_answer_and_the_next_read_shows_it(
    writable_gateway: Gateway, writable_world: World,
) -> None:
    contact = next(c for c in writable_world.contacts if not c["archived"]
                   and c["properties"].get("lifecyclestage") != "evangelist")
    gid = encode_id("Customer", str(contact["id"]))
    before = await writable_gateway.query(CUSTOMER, {"id": gid})
    assert len(responses(writable_gateway)) == 1

    written = await writable_gateway.query(
        'mutation($id: ID!) { updateCustomer(id: $id, input: {lifecycleStage: "evangelist"}) '
        "{ customer { lifecycleStage } } }", {"id": gid})
    after = await writable_gateway.query(CUSTOMER, {"id": gid})

    assert "errors" not in written, written
    assert before["data"]["customer"]["lifecycleStage"] != "evangelist"
    assert after["data"]["customer"]["lifecycleStage"] == "evangelist"


async def test_with_the_cache_disabled_nothing_is_kept(make_gateway: MakeGateway,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARMONIA_CACHE__ENABLED", "false")
    gw = await make_gateway(redis=False)

    await gw.query(ORDERS)
    await gw.query(ORDERS)

    assert gw.calls() == {"hubspot": 2, "shopify": 2}
    assert len(responses(gw)) == 0


async def test_answers_with_errors_are_not_kept(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(redis=False)

    body = await gw.query('{ customer(id: "not-an-id") { email } }')  # a resolver's own error

    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    assert len(responses(gw)) == 0


STATS = "{ campaigns(first: 3) { edges { node { name stats { clicks } } } } }"
OPEN_STATS_TO_SUPPORT = """mutation { setFieldPolicy(input: {typeName: "Campaign", fieldName: "stats",
    read: [{roles: ["marketer"]}, {roles: ["analyst"]}, {roles: ["support"]}]}) { source } }"""


async def test_an_answer_with_the_policys_denials_is_kept_with_them_until_the_policy_changes(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(redis=False)
    denied = await gw.query(STATS, role="support")  # campaign stats: null with FORBIDDEN for support
    assert {e["extensions"]["code"] for e in denied["errors"]} == {"FORBIDDEN"}
    forget_entities(gw)
    gw.reset_counts()

    again = await gw.query(STATS, role="support")

    assert gw.calls() == {}  # answered whole, denials included: they are the same on every repeat
    assert again["errors"] == denied["errors"] and again["data"] == denied["data"]
    assert again["extensions"]["cost"]["actualQueryCost"] == denied["extensions"]["cost"]["actualQueryCost"]

    # An admin opens the field: the next answer is decided under the new policy, never the cached one.
    assert "errors" not in await gw.query(OPEN_STATS_TO_SUPPORT)
    opened = await gw.query(STATS, role="support")
    assert "errors" not in opened
    assert all(e["node"]["stats"] is not None for e in opened["data"]["campaigns"]["edges"])
    # And closed again: the answer that held the stats is not served after the revocation.
    assert "errors" not in await gw.query('mutation { removeFieldPolicy(typeName: "Campaign", '
                                          'fieldName: "stats") { source } }')
    closed = await gw.query(STATS, role="support")
    assert closed["errors"] == denied["errors"] and closed["data"] == denied["data"]


async def test_answers_served_stale_are_not_kept(make_gateway: MakeGateway) -> None:
    short = {"ttl": 0.3, "stale_while_revalidate": 0, "stale_if_error": 3600}
    gw = await make_gateway(redis=False, sources={"shopify": {"max_retries": 0}},
                            cache={"orders": short, "contacts": short})
    await gw.query(ORDERS)
    await asyncio.sleep(0.4)  # past the TTL: the answer and its records are due for a refetch
    await gw.fault("shopify", 503)

    stale = await gw.query(ORDERS)

    assert stale["extensions"]["stale"], stale
    assert len(responses(gw)) == 0


async def test_an_answer_expires_no_later_than_the_shortest_ttl_among_what_it_read(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(redis=False, cache={"orders": {"ttl": 7}, "contacts": {"ttl": 600}})
    started = time.time()

    await gw.query(ORDERS)

    key = ResponseCache.key(ORDERS, None, None, policy_fingerprint(Principal("tester", frozenset({"admin"}))))
    answer = responses(gw).get(key)
    assert answer is not None
    assert started + 6 < answer.expires_at <= time.time() + 7  # the orders page's 7 s, not the contacts' 600


async def test_mutations_and_the_privacy_reads_are_never_answered_from_the_cache(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(redis=False)
    gid = await first_customer_id(gw)
    kept = len(responses(gw))

    await gw.query(EVICT, {"id": gid})
    await gw.query(EVICT, {"id": gid})
    await gw.query("query($id: ID!) { erasureStatus(id: $id) { state } }", {"id": gid})

    assert len(responses(gw)) == kept - 1  # the eviction dropped the id lookup; nothing was added
