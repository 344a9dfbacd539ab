"""Every shared-state feature across gateway instances, on a Redis Cluster, a TLS server and a Sentinel pair.

Each test runs once per topology (``topology`` fixture): two or three gateways over one set of simulators,
sharing only the Redis the topology gives them, and each assertion is something a user of one instance
would notice about another.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from harmonia.credentials.sealed import Sealer
from harmonia.credentials.store import RedisTokenStore
from harmonia.settings import load_settings
from harmonia.shared_state import PATIENT, RedisTarget, open_client
from harmonia.simulators.core import Fault, SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from tests.conftest import Gateway, open_gateway, token_for
from tests.resolvers.test_erasure import DPO, ERASE, FAST, STATUS, person
from tests.schema.test_mutations import UPDATE, customer_id

CUSTOMERS = "{ customers(first: 5) { edges { node { id email lifecycleStage } } } }"
STATS = "{ campaigns(first: 3) { edges { node { name stats { clicks } } } } }"
OPEN_STATS = """mutation { setFieldPolicy(input: {typeName: "Campaign", fieldName: "stats",
    read: [{roles: ["marketer"]}, {roles: ["analyst"]}, {roles: ["support"]}]}) { source } }"""
MEMBERS = "{ customers(first: 3) { edges { node { email emailMarketingStatus } } } }"


@asynccontextmanager
async def instances(sim: SimulatorState, topology: dict[str, Any], n: int = 2,
                    **overrides: Any) -> AsyncIterator[list[Gateway]]:
    """``n`` gateway instances over ``sim``, each its own app (own in-process tiers), on one Redis."""
    opened = [await open_gateway(sim, **topology, **overrides) for _ in range(n)]
    try:
        yield [gateway for gateway, _ in opened]
    finally:
        for _, close in opened:
            await close()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


def codes(body: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors", ())}


READS = [CUSTOMERS, "{ orders(first: 5) { edges { node { name totalPrice { amount } lineItems { title } } } } }",
         "{ campaigns(first: 5) { edges { node { name channel status stats { clicks } } } } }"]


async def test_what_one_instance_fetched_another_answers_without_asking_the_sources(
        fast_sim_state: SimulatorState, topology: dict[str, Any]) -> None:
    async with instances(fast_sim_state, topology) as (a, b):
        firsts = [await a.query(query) for query in READS]
        assert not [body for body in firsts if "errors" in body], firsts
        asked = a.upstream_calls()

        seconds = [await b.query(query) for query in READS]

        assert [body["data"] for body in seconds] == [body["data"] for body in firsts]
        assert b.upstream_calls() == asked  # B read A's records from Redis: no source was asked again


async def test_a_write_on_one_instance_is_what_every_instance_reads_next(
        writable_sim_state: SimulatorState, writable_world: World, topology: dict[str, Any]) -> None:
    contact = person(writable_world, with_orders=True)
    gid = customer_id(contact)
    read = "query($id: ID!) { customer(id: $id) { lifecycleStage } }"
    async with instances(writable_sim_state, topology, 3) as gateways:
        for gateway in gateways:  # every instance has the record cached, in process and in Redis
            assert (await gateway.query(read, {"id": gid}))["data"]["customer"]["lifecycleStage"] != "evangelist"

        written = await gateways[0].query(UPDATE, {"id": gid, "input": {"lifecycleStage": "evangelist"}})
        assert "errors" not in written, written

        for gateway in gateways[1:]:  # the eviction reached them (pub/sub; sharded on a Cluster)
            async def shows_it(g: Gateway = gateway) -> bool:
                body = await g.query(read, {"id": gid})
                return bool(body["data"]["customer"]["lifecycleStage"] == "evangelist")

            await eventually(shows_it, 5.0)


async def test_a_clients_budget_is_one_bucket_across_instances(
        fast_sim_state: SimulatorState, topology: dict[str, Any]) -> None:
    limits = {"budget_maximum": 100, "budget_restore_rate": 0.01}
    token = token_for("marketer", sub=f"budget-{uuid.uuid4().hex[:8]}")
    async with instances(fast_sim_state, topology, limits=limits) as (a, b):
        levels = []
        for gateway in (a, b, a):
            body = await gateway.query(CUSTOMERS, token=token)
            levels.append(body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"])
        assert levels[0] > levels[1] > levels[2]  # each instance saw the other's spending

        for turn in range(50):
            spent = await (a, b)[turn % 2].post(CUSTOMERS, token=token)
            if spent.status_code != 200:
                break
        assert spent.status_code == 429
        assert (await a.post(CUSTOMERS, token=token)).status_code == 429  # the other instance refuses too


async def test_a_circuit_one_instance_opened_spares_the_others_the_calls(
        world: World, topology: dict[str, Any]) -> None:
    sims = [SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=world) for _ in range(2)]
    opened = [await open_gateway(sim, **topology, upstream={"circuit_reset_seconds": 30.0}) for sim in sims]
    (a, _), (b, _) = opened
    try:
        sims[0].faults["mailchimp"] = Fault(status=503, rate=1.0, latency_ms=0, until=float("inf"))
        for _ in range(3):
            await a.query(MEMBERS)

        body = await b.query(MEMBERS)

        assert b.upstream_calls()["mailchimp"] == 0  # B never called the API that A found dead
        assert codes(body) == {"UPSTREAM_UNAVAILABLE"}
        assert all(edge["node"]["email"] for edge in body["data"]["customers"]["edges"])
    finally:
        for _, close in opened:
            await close()


async def test_an_admins_policy_change_on_one_instance_is_enforced_by_the_others(
        fast_sim_state: SimulatorState, topology: dict[str, Any]) -> None:
    support = token_for("support", sub="sam")
    async with instances(fast_sim_state, topology, 3) as (a, b, c):
        assert codes(await b.query(STATS, token=support)) == {"FORBIDDEN"}

        changed = await a.query(OPEN_STATS, role="admin")
        assert changed["data"] == {"setFieldPolicy": {"source": "OVERLAY"}}, changed

        for gateway in (b, c):
            async def opened(g: Gateway = gateway) -> bool:
                return "errors" not in await g.query(STATS, token=support)

            await eventually(opened, 3.0)


async def test_a_mutation_retried_on_another_instance_is_replayed_not_written_again(
        writable_sim_state: SimulatorState, writable_world: World, topology: dict[str, Any]) -> None:
    contact = person(writable_world, with_orders=False)
    variables = {"id": customer_id(contact), "input": {"lifecycleStage": "customer"}, "key": uuid.uuid4().hex}
    async with instances(writable_sim_state, topology) as (a, b):
        first = await a.query(UPDATE, variables)
        patches = writable_sim_state.by_route["hubspot"].copy()

        again = await b.query(UPDATE, variables)

        assert first["data"]["updateCustomer"]["replayed"] is False, first
        assert again["data"]["updateCustomer"]["replayed"] is True, again
        assert again["data"]["updateCustomer"]["customer"] == first["data"]["updateCustomer"]["customer"]
        assert writable_sim_state.by_route["hubspot"] == patches  # HubSpot got one write, not two


async def test_an_erasure_started_on_one_instance_finishes_once_and_every_instance_sees_it(
        writable_sim_state: SimulatorState, writable_world: World, topology: dict[str, Any]) -> None:
    contact = person(writable_world, with_orders=True)
    gid = customer_id(contact)
    async with instances(writable_sim_state, topology, 3, erasure=FAST) as gateways:
        for gateway in gateways:
            gateway.app.state.writes.start()  # every instance watches for unfinished jobs
        started = await gateways[0].query(ERASE, {"id": gid}, token=DPO)
        assert "errors" not in started, started

        async def completed() -> bool:
            body = await gateways[2].query(STATUS, {"id": gid}, token=DPO)
            return bool(body["data"]["erasureStatus"] and body["data"]["erasureStatus"]["state"] == "COMPLETED")

        await eventually(completed, 15.0)
        audit = await gateways[1].app.state.writes.erasure.store.audit_log()
        assert [entry["customerId"] for entry in audit] == [contact["id"]]  # one job, one audit record


async def test_a_persisted_query_registered_on_one_instance_runs_by_hash_on_another(
        fast_sim_state: SimulatorState, topology: dict[str, Any]) -> None:
    query = "{ customers(first: 2) { edges { node { id } } } }"
    apq = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    async with instances(fast_sim_state, topology) as (a, b):
        registered = await a.client.post("/graphql", json={"query": query, "extensions": apq}, headers=headers)
        assert "errors" not in registered.json(), registered.text

        by_hash = await b.client.post("/graphql", json={"extensions": apq}, headers=headers)

        assert by_hash.json()["data"] == registered.json()["data"]


async def test_field_usage_counted_on_every_instance_adds_up(
        fast_sim_state: SimulatorState, topology: dict[str, Any]) -> None:
    async with instances(fast_sim_state, topology, 3) as gateways:
        for gateway in gateways:
            await gateway.query("{ customers(first: 1) { edges { node { email } } } }",
                                token=token_for("admin", sub="usage-counter"))
        usage = gateways[0].app.state.telemetry.usage
        for gateway in gateways:
            await gateway.app.state.telemetry.usage.flush()

        rows = {row.coordinate: row.count for row in await usage.report(hours=1, client="usage-counter")}

        assert rows["Customer.email"] == 3


async def test_one_credential_renewal_at_a_time_across_instances(topology: dict[str, Any]) -> None:
    target = RedisTarget.from_settings(load_settings(**topology))
    assert target is not None
    clients = [open_client(target, PATIENT) for _ in range(2)]
    sealer = Sealer("a-test-secret", context="hubspot")
    stores = [RedisTokenStore(client, "hubspot:test", sealer) for client in clients]
    try:
        lease = await stores[0].try_lock(30.0)
        assert lease is not None and isinstance(lease, str)  # a lease in Redis, not this process's fallback
        assert await stores[1].try_lock(30.0) is None
        await stores[0].unlock(lease)
        assert await stores[1].try_lock(30.0) is not None
    finally:
        for client in clients:
            await client.aclose()


async def test_readiness_reports_the_topology_reachable(
        fast_sim_state: SimulatorState, topology: dict[str, Any]) -> None:
    async with instances(fast_sim_state, topology, 1) as (gateway,):
        response = await gateway.client.get("/readyz")
        assert response.json()["checks"]["redis"] == "ok", response.text
