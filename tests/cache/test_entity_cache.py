"""The entity cache as a dashboard user meets it: repeated queries are free, stale beats nothing, roles never leak."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.cache.conftest import MakeGateway

NESTED = """
{ customers(first: 50) { edges { cursor node { email orders(first: 5) { edges { node { name } } } } } } }
"""
# Long enough that a slow first query (55 upstream calls on a busy machine) does not outlive it.
SHORT = {"ttl": 3.0, "stale_while_revalidate": 0, "stale_if_error": 3600}
PAST_TTL = 3.2


def errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body.get("errors", []))


async def test_nested_query_twice_within_ttl_makes_no_upstream_call_then_refetches_after_it(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(cache={"contacts": SHORT, "customers": SHORT, "orders": SHORT})

    first = await gw.query(NESTED)
    cold = gw.calls()
    gw.reset_counts()
    second = await gw.query(NESTED)
    warm = gw.calls()
    await asyncio.sleep(PAST_TTL)
    gw.reset_counts()
    third = await gw.query(NESTED)

    assert not errors(first) and second["data"] == first["data"] == third["data"]
    assert cold == {"hubspot": 1, "shopify": 1}  # every customer's orders in one GraphQL query
    assert warm == {}
    assert gw.calls() == cold  # past the TTL every record is fetched again
    assert "stale" not in second["extensions"]


async def test_fifty_concurrent_identical_queries_on_a_cold_cache_make_the_calls_of_one(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway()

    bodies = await asyncio.gather(*(gw.query(NESTED) for _ in range(50)))

    assert all(not errors(b) for b in bodies)
    assert all(b["data"] == bodies[0]["data"] for b in bodies)
    assert gw.calls() == {"hubspot": 1, "shopify": 1}
    documents = [r["body"] for r in gw.log("shopify")]
    assert len(documents) == len(set(documents)), "a Shopify query was sent twice"


async def test_shopify_down_with_a_stale_entry_answers_the_old_data_and_says_how_old(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(cache={"customers": SHORT, "orders": SHORT})
    before = await gw.query(NESTED)
    await asyncio.sleep(PAST_TTL)  # past the TTL: the next read must refetch, and may fall back
    await gw.fault("shopify", 503)

    during = await gw.query(NESTED)

    assert not errors(during)
    assert during["data"] == before["data"]
    stale = during["extensions"]["stale"]
    assert {s["source"] for s in stale} == {"shopify"}
    orders_paths = {tuple(s["path"]) for s in stale}
    assert ("customers", "edges", 0, "node", "orders") in orders_paths
    assert all(0.5 <= s["ageSeconds"] < 30 for s in stale)
    assert gw.upstream_calls()["shopify"] > 1, "the stale entries were served without asking Shopify first"


async def test_shopify_down_without_a_stale_entry_gives_partial_data_and_upstream_unavailable(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(sources={"shopify": {"max_retries": 0}})
    await gw.fault("shopify", 503)

    body = await gw.query(NESTED)

    failures = errors(body)
    assert failures and {e["extensions"]["code"] for e in failures} == {"UPSTREAM_UNAVAILABLE"}
    assert all(e["path"][-1] == "orders" and e["path"][0] == "customers" for e in failures)
    assert failures[0]["path"] == ["customers", "edges", failures[0]["path"][2], "node", "orders"]
    edges = body["data"]["customers"]["edges"]
    assert len(edges) == 50 and all(e["cursor"] for e in edges)  # the HubSpot page is still there
    # The customers whose orders could not be read are null; none of them shows orders it does not have.
    assert {e["path"][2] for e in failures} == {i for i, e in enumerate(edges) if e["node"] is None}
    assert "stale" not in body["extensions"]


CONTACTS = "{ customers(first: 20) { edges { node { id email phone } } } }"


async def test_a_masked_role_never_sees_clear_values_through_either_tier(make_gateway: MakeGateway) -> None:
    first, second = await make_gateway(), await make_gateway()  # two instances, one Redis

    admin = await first.query(CONTACTS, role="admin")       # fills tier 1 of `first` and Redis
    analyst_t1 = await first.query(CONTACTS, role="analyst")  # tier 1
    analyst_t2 = await second.query(CONTACTS, role="analyst")  # Redis, into `second`'s tier 1
    first.reset_counts()
    marketer = await second.query(CONTACTS, role="marketer")

    clear = [e["node"] for e in admin["data"]["customers"]["edges"]]
    assert all(n["email"] and "***" not in n["email"] for n in clear)
    assert first.calls() == {}, "the marketer's answer came from the cache"
    assert [e["node"] for e in marketer["data"]["customers"]["edges"]] == clear  # one record serves every role
    for body in (analyst_t1, analyst_t2):
        seen = [e["node"] for e in body["data"]["customers"]["edges"]]
        emails = {n["email"] for n in seen} | {n["phone"] for n in seen if n["phone"]}
        assert not emails & ({n["email"] for n in clear} | {n["phone"] for n in clear})
        assert all(n["email"].count("***") == 1 for n in seen)
        assert [n["id"] for n in seen] == [n["id"] for n in clear]


async def test_the_masked_role_asking_first_does_not_leave_masked_values_for_others(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway()

    analyst = await gw.query(CONTACTS, role="analyst")
    admin = await gw.query(CONTACTS, role="admin")

    assert all("***" in e["node"]["email"] for e in analyst["data"]["customers"]["edges"])
    assert all("***" not in e["node"]["email"] for e in admin["data"]["customers"]["edges"])


async def test_with_the_cache_disabled_every_query_goes_upstream(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(cache={"enabled": False})

    await gw.query(NESTED)
    await gw.query(NESTED)

    assert gw.calls() == {"hubspot": 2, "shopify": 2}


async def test_a_record_past_its_ttl_is_served_at_once_and_refreshed_in_the_background(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway(cache={"contacts": {"ttl": 0.3, "stale_while_revalidate": 60}})
    await gw.query(CONTACTS)
    await asyncio.sleep(0.4)
    gw.sim.config.latency_ms = 300  # a slow HubSpot: the answer must not wait for it
    gw.reset_counts()

    body = await gw.query(CONTACTS)
    asked_during = gw.calls()
    await asyncio.sleep(0.5)

    assert not errors(body) and "stale" not in body["extensions"]
    assert gw.calls() == {"hubspot": 1}, "the background refresh did not reach HubSpot"
    assert asked_during in ({}, {"hubspot": 1})  # counted on arrival; answered long after our reply
    gw.reset_counts()
    gw.sim.config.latency_ms = 0
    await gw.query(CONTACTS)
    assert gw.calls() == {}, "the refresh was not stored"


def _cache_control(value: str) -> Any:
    """The simulators behind a proxy that adds a Cache-Control header to every answer."""

    def wrap(app: Any) -> Any:
        async def with_header(scope: Any, receive: Any, send: Any) -> None:
            async def send_with_header(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"cache-control", value.encode())]
                await send(message)

            await app(scope, receive, send_with_header)

        return with_header

    return wrap


@pytest.mark.parametrize("header", ["no-store", "max-age=0"])
async def test_an_upstream_that_forbids_caching_is_asked_every_time(make_gateway: MakeGateway, header: str) -> None:
    gw = await make_gateway(wrap=_cache_control(header), cache={"contacts": {"stale_while_revalidate": 0}})

    await gw.query(CONTACTS)
    await gw.query(CONTACTS)

    assert gw.calls() == {"hubspot": 2}


async def test_an_upstream_max_age_replaces_the_configured_ttl(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(wrap=_cache_control("private, max-age=3600"),
                            cache={"contacts": {"ttl": 0.2, "stale_while_revalidate": 0}})

    await gw.query(CONTACTS)
    await asyncio.sleep(0.3)
    await gw.query(CONTACTS)

    assert gw.calls() == {"hubspot": 1}


async def test_another_tenants_credentials_never_read_this_ones_entries(make_gateway: MakeGateway) -> None:
    ours = await make_gateway()
    theirs = await make_gateway(sources={"hubspot": {"base_url": "http://other-tenant.example/hubspot"}})

    await ours.query(CONTACTS)
    ours.reset_counts()
    await theirs.query(CONTACTS)

    assert ours.calls() == {"hubspot": 1}


EVICT = "mutation($id: ID) { evictCache(type: CUSTOMER, id: $id) { type id evicted } }"


async def test_only_admins_may_evict_and_an_eviction_makes_the_next_query_refetch(make_gateway: MakeGateway) -> None:
    gw = await make_gateway()
    page = await gw.query(CONTACTS)
    some_id = page["data"]["customers"]["edges"][0]["node"]["id"]

    refused = await gw.query(EVICT, {"id": some_id}, role="marketer")
    gw.reset_counts()
    await gw.query(CONTACTS)
    cached = gw.calls()
    done = await gw.query(EVICT, {"id": some_id}, role="admin")
    await gw.query(CONTACTS)

    assert refused.get("data") is None  # evictCache does not exist for a marketer
    assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert cached == {}
    assert done["data"]["evictCache"]["evicted"] >= 2  # the page, in tier 1 and in Redis
    assert gw.calls() == {"hubspot": 1}


async def test_an_eviction_of_a_whole_type_reaches_a_second_instance(make_gateway: MakeGateway) -> None:
    first, second = await make_gateway(), await make_gateway()
    await first.query(NESTED)
    await second.query(NESTED)
    await asyncio.wait_for(second.app.state.cache.subscribed.wait(), 5)
    first.reset_counts()

    await first.query("mutation { evictCache(type: ORDER) { evicted } }")
    for _ in range(50):
        await asyncio.sleep(0.02)
        if not any(":customer-orders:" in key for key in second.app.state.cache.memory.cached_keys()):
            break
    await second.query(NESTED)

    assert first.calls() == {"shopify": 1}  # every customer's orders again, in one query


async def test_readyz_reports_redis_and_the_cache(make_gateway: MakeGateway) -> None:
    with_redis, without = await make_gateway(), await make_gateway(redis=False)
    await with_redis.query(CONTACTS)

    up = (await with_redis.client.get("/readyz")).json()
    alone = (await without.client.get("/readyz")).json()

    assert up["checks"]["redis"] == "ok" and up["cache"]["redis"] == "ok" and up["cache"]["entries"] >= 1
    assert alone["checks"]["redis"] == "not configured" and alone["cache"]["redis"] == "not configured"
