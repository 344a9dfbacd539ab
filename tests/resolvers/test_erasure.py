"""Erasure: every source erases the person its own way, as a durable job that retries and ends audited."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from harmonia.simulators.core import Fault, SimulatorState
from harmonia.simulators.data import World, subscriber_hash
from tests.conftest import Gateway, open_gateway, token_for
from tests.schema.test_mutations import customer_id

FAST = {"retry_base_seconds": 0.05, "retry_max_seconds": 0.2, "poll_seconds": 0.1, "lease_seconds": 1.0}
JOB = """id customerId state requestedBy requestedAt completedAt
  sources { source state outcome mechanism httpStatus target attempts lastError confirmedAt }
  audit { requestedBy requestedAt completedAt state sources { source state outcome mechanism httpStatus attempts } }"""
ERASE = f"mutation($id: ID!) {{ eraseCustomer(id: $id) {{ {JOB} }} }}"
STATUS = f"query($id: ID!) {{ erasureStatus(id: $id) {{ {JOB} }} }}"
DPO = token_for("support", sub="dpo@example.com", scopes=("privacy",))


def person(world: World, *, with_orders: bool) -> dict[str, Any]:
    """A live contact linked to a Shopify customer with (or without) orders, and on the Mailchimp list."""
    shop = {c["id"]: c for c in world.shopify_customers}
    for contact in world.contacts:
        props = contact["properties"]
        linked = shop.get(int(props["shopify_customer_id"] or 0))
        if (not contact["archived"] and linked and bool(world.customer_orders(linked["id"])) == with_orders
                and subscriber_hash(props["email"]) in world.members):
            return contact
    raise AssertionError("no such person in the seeded world")


def sources_of(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["source"]: s for s in job["sources"]}


async def wait_for(gateway: Gateway, gid: str, done: Callable[[dict[str, Any]], bool],
                   seconds: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        body = await gateway.query(STATUS, {"id": gid}, token=DPO)
        job = body["data"]["erasureStatus"]
        if job is not None and done(job):
            return dict(job)
        assert time.monotonic() < deadline, f"erasure did not get there in time: {job}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def gateway(writable_sim_state: SimulatorState) -> AsyncIterator[Gateway]:
    opened, close = await open_gateway(writable_sim_state, erasure=FAST)
    yield opened
    await close()


async def test_erasure_deletes_or_redacts_the_person_everywhere_and_ends_audited(
    gateway: Gateway, writable_world: World
) -> None:
    contact = person(writable_world, with_orders=True)
    email, shop_id = contact["properties"]["email"], int(contact["properties"]["shopify_customer_id"])
    gid = customer_id(contact)
    evicted: list[tuple[str, str, str]] = []
    totals = [o["total_price"] for o in writable_world.customer_orders(shop_id)]

    evict_everywhere = gateway.app.state.writes.shared_invalidation

    async def record(source: str, entity: str, key: str) -> None:
        evicted.append((source, entity, key))
        await evict_everywhere(source, entity, key)  # still evict: later reads must see the change

    gateway.app.state.writes.shared_invalidation = record

    started = await gateway.query(ERASE, {"id": gid}, token=DPO)
    assert "errors" not in started, started
    assert started["data"]["eraseCustomer"]["state"] == "RUNNING"
    job = await wait_for(gateway, gid, lambda j: j["state"] != "RUNNING")

    assert job["state"] == "COMPLETED"
    assert contact not in writable_world.contacts                     # HubSpot: GDPR delete, gone for good
    assert subscriber_hash(email) not in writable_world.members        # Mailchimp: permanently deleted
    # Shopify: customerRequestDataErasure; the simulator redacts at once (shopify_erasure_delay_s = 0).
    shop_customer = next(c for c in writable_world.shopify_customers if c["id"] == shop_id)
    assert (shop_customer["email"], shop_customer["phone"], shop_customer["first_name"]) == (None, None, None)
    orders = writable_world.customer_orders(shop_id)
    assert all(o["email"] is None and o["customer"]["email"] is None for o in orders)
    assert [o["total_price"] for o in orders] == totals               # what was sold stays, for the books
    audit = job["audit"]
    assert audit["requestedBy"] == "dpo@example.com" and audit["state"] == "COMPLETED"
    confirmed = {s["source"]: (s["state"], s["outcome"], s["httpStatus"]) for s in audit["sources"]}
    assert confirmed == {"hubspot": ("CONFIRMED", "DELETED", 204), "mailchimp": ("CONFIRMED", "DELETED", 204),
                         "shopify": ("CONFIRMED", "ERASURE_REQUESTED", 200),
                         "ga4": ("NOT_APPLICABLE", "NOT_APPLICABLE", None),
                         "googleads": ("NOT_APPLICABLE", "NOT_APPLICABLE", None)}
    mechanisms = {s["source"]: s["mechanism"] for s in audit["sources"]}
    assert mechanisms["hubspot"] == "POST /crm/objects/2026-09/contacts/gdpr-delete"
    assert mechanisms["mailchimp"].endswith("/actions/delete-permanent")
    assert mechanisms["shopify"] == "customerRequestDataErasure"
    [request] = [json.loads(r["body"]) for r in gateway.log("shopify") if "customerRequestDataErasure" in r["body"]]
    assert request["variables"] == {"customerId": f"gid://shopify/Customer/{shop_id}"}
    assert sorted(evicted) == [("hubspot", "contact", contact["id"]),
                               ("mailchimp", "member", email.strip().lower()), ("shopify", "customer", str(shop_id))]
    gone = await gateway.query("query($id: ID!) { customer(id: $id) { email } }", {"id": gid})
    assert gone["data"]["customer"] is None


async def test_a_shop_customer_without_orders_is_erased_through_the_same_request(
    gateway: Gateway, writable_world: World
) -> None:
    contact = person(writable_world, with_orders=False)
    shop_id = int(contact["properties"]["shopify_customer_id"])
    gid = customer_id(contact)
    await gateway.query(ERASE, {"id": gid}, token=DPO)
    job = await wait_for(gateway, gid, lambda j: j["state"] != "RUNNING")
    assert sources_of(job)["shopify"]["outcome"] == "ERASURE_REQUESTED"
    shop_customer = next(c for c in writable_world.shopify_customers if c["id"] == shop_id)
    assert shop_customer["email"] is None and shop_customer["last_name"] is None


async def test_a_shop_customer_shopify_does_not_know_is_confirmed_absent(
    gateway: Gateway, writable_world: World
) -> None:
    contact = person(writable_world, with_orders=False)
    shop_id = int(contact["properties"]["shopify_customer_id"])
    writable_world.shopify_customers[:] = [c for c in writable_world.shopify_customers if c["id"] != shop_id]
    gid = customer_id(contact)
    await gateway.query(ERASE, {"id": gid}, token=DPO)
    job = await wait_for(gateway, gid, lambda j: j["state"] != "RUNNING")
    assert job["state"] == "COMPLETED"
    assert (sources_of(job)["shopify"]["state"], sources_of(job)["shopify"]["outcome"]) == ("CONFIRMED", "ABSENT")


async def test_a_faulted_source_is_retried_while_the_others_complete(gateway: Gateway, writable_world: World) -> None:
    contact = person(writable_world, with_orders=True)
    gid = customer_id(contact)
    gateway.sim.faults["mailchimp"] = Fault(status=503, rate=1.0, latency_ms=0, until=float("inf"))

    await gateway.query(ERASE, {"id": gid}, token=DPO)
    job = await wait_for(gateway, gid, lambda j: sources_of(j)["mailchimp"]["attempts"] >= 3
                         and sources_of(j)["hubspot"]["state"] == "CONFIRMED"
                         and sources_of(j)["shopify"]["state"] == "CONFIRMED")

    mailchimp = sources_of(job)["mailchimp"]
    assert job["state"] == "RUNNING"
    assert mailchimp["state"] == "RETRYING"
    assert mailchimp["lastError"].startswith("UPSTREAM_UNAVAILABLE")
    # A delete is never retried by the HTTP layer: each job attempt is exactly one request.
    deletes = [r for r in gateway.log("mailchimp") if r["route"].endswith("delete-permanent")]
    assert len(deletes) in (mailchimp["attempts"], mailchimp["attempts"] + 1)  # + one in flight right now

    gateway.sim.faults.clear()
    done = await wait_for(gateway, gid, lambda j: j["state"] != "RUNNING")
    assert done["state"] == "COMPLETED"
    assert sources_of(done["audit"])["mailchimp"]["outcome"] == "DELETED"
    assert sources_of(done["audit"])["mailchimp"]["attempts"] >= 4


async def test_asking_twice_starts_nothing_new(gateway: Gateway, writable_world: World) -> None:
    contact = person(writable_world, with_orders=True)
    gid = customer_id(contact)
    first = await gateway.query(ERASE, {"id": gid}, token=DPO)
    await wait_for(gateway, gid, lambda j: j["state"] != "RUNNING")
    again = await gateway.query(ERASE, {"id": gid}, token=DPO)
    assert again["data"]["eraseCustomer"]["id"] == first["data"]["eraseCustomer"]["id"]
    assert again["data"]["eraseCustomer"]["state"] == "COMPLETED"
    assert sum(1 for r in gateway.log("hubspot") if r["route"].endswith("gdpr-delete")) == 1


async def test_with_redis_an_unfinished_job_is_resumed_by_another_instance(
    writable_sim_state: SimulatorState, writable_world: World, redis_url: str
) -> None:
    prefix = f"test-{uuid.uuid4().hex}:erasure:"
    # Attempts never run out here: however long the first instance takes to shut down under load, its
    # retries against the failing Mailchimp cannot end the job (FAILED) before the second one starts.
    erasure = {**FAST, "key_prefix": prefix, "max_attempts": 1_000_000}
    settings: dict[str, Any] = {"redis_url": redis_url, "erasure": erasure}
    contact = person(writable_world, with_orders=True)
    gid = customer_id(contact)
    writable_sim_state.faults["mailchimp"] = Fault(status=503, rate=1.0, latency_ms=0, until=float("inf"))

    first, close_first = await open_gateway(writable_sim_state, **settings)
    await first.query(ERASE, {"id": gid}, token=DPO)
    await wait_for(first, gid, lambda j: sources_of(j)["mailchimp"]["state"] == "RETRYING")
    await close_first()  # the instance shuts down mid-job (a crash is the process test's case)
    writable_sim_state.faults.clear()

    client = redis.from_url(redis_url)
    jobs = f"{prefix}{{jobs}}:"  # one hash tag: a Redis Cluster keeps every key of the jobs on one node
    try:
        job_id = (await client.get(f"{jobs}customer:{contact['id']}")).decode()
        assert await client.sismember(f"{jobs}open", job_id), await client.get(f"{jobs}job:{job_id}")
        second, close_second = await open_gateway(writable_sim_state, **settings)
        try:
            second.app.state.writes.start()  # what the app's startup does
            job = await wait_for(second, gid, lambda j: j["state"] != "RUNNING")
        finally:
            await close_second()
        assert job["state"] == "COMPLETED"
        assert sources_of(job["audit"])["mailchimp"]["outcome"] == "DELETED"
        assert await client.scard(f"{jobs}open") == 0
        [raw_audit] = await client.lrange(f"{jobs}audit", 0, -1)
        audit = json.loads(raw_audit)
        assert audit["customerId"] == contact["id"] and audit["requestedBy"] == "dpo@example.com"
        stored = (await client.get(f"{jobs}job:{job['id']}")).decode()
        assert contact["properties"]["email"].strip().lower() not in stored.lower()  # the email is not kept
    finally:
        await client.aclose()


async def test_an_archived_contact_is_erased_too(gateway: Gateway, writable_world: World) -> None:
    contact = next(c for c in writable_world.contacts if c["archived"])
    gid = customer_id(contact)
    await gateway.query(ERASE, {"id": gid}, token=DPO)
    job = await wait_for(gateway, gid, lambda j: j["state"] != "RUNNING")
    assert sources_of(job)["hubspot"]["outcome"] == "DELETED"
    assert contact not in writable_world.contacts


async def test_an_unknown_customer_is_bad_input(gateway: Gateway) -> None:
    body = await gateway.query(ERASE, {"id": customer_id({"id": "999999999"})}, token=DPO)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
