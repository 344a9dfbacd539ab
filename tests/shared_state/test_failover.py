"""The Redis master killed mid-load (Sentinel promotes the replica; a Cluster its master's replica).

Three gateway instances keep serving reads, idempotent writes and erasures while the master that holds
them is SIGKILLed. Afterwards: no HTTP 5xx was answered, every erasure finished exactly once (one audit
record each), every idempotent write replays its first answer on any instance without a second upstream
write, and the client budgets are shared again. Each test starts a topology of its own: it breaks it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World
from tests.conftest import Gateway, open_gateway, token_for
from tests.resolvers.test_erasure import DPO, ERASE, FAST, STATUS
from tests.schema.test_mutations import UPDATE, customer_id
from tests.topologies import Topology, cluster, sentinel

READS = ["{ customers(first: 5) { edges { node { email lifecycleStage } } } }",
         "{ orders(first: 5) { edges { node { name totalPrice { amount } } } } }",
         "{ campaigns(first: 3) { edges { node { name status } } } }"]
JOBS_KEY = "harmonia:erasure:{jobs}:open"   # the slot of the erasure jobs: the master to kill on a Cluster


@pytest.fixture(params=["sentinel", "cluster"])
def own_topology(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Topology]:
    topology = (sentinel if request.param == "sentinel" else cluster)(tmp_path / request.param)
    try:
        yield topology
    finally:
        topology.stop()


class Load:
    """Everything answered during the test, by status, and the idempotent writes' first answers."""

    def __init__(self, gateways: list[Gateway]) -> None:
        self.gateways = gateways
        self.statuses: Counter[int] = Counter()
        self.codes: Counter[str] = Counter()
        self.firsts: dict[str, dict[str, Any]] = {}   # idempotency key -> the first answer's customer
        self.n = 0

    def next(self) -> Gateway:
        self.n += 1
        return self.gateways[self.n % len(self.gateways)]

    async def post(self, gateway: Gateway, query: str, variables: dict[str, Any] | None = None,
                   token: str | None = None) -> dict[str, Any]:
        response = await gateway.post(query, variables, token=token)
        self.statuses[response.status_code] += 1
        body: dict[str, Any] = response.json()
        self.codes.update(e["extensions"]["code"] for e in body.get("errors", ()))
        return body

    async def reads(self, until: asyncio.Event) -> None:
        while not until.is_set():
            await self.post(self.next(), READS[self.n % len(READS)])
            await asyncio.sleep(0.01)

    async def write(self, contact: dict[str, Any]) -> None:
        key = uuid.uuid4().hex
        variables = {"id": customer_id(contact), "input": {"lifecycleStage": "customer"}, "key": key}
        body = await self.post(self.next(), UPDATE, variables)
        if body.get("data") and body["data"]["updateCustomer"]:
            self.firsts[key] = {"variables": variables, "customer": body["data"]["updateCustomer"]["customer"]}


async def test_the_master_killed_mid_load_loses_and_doubles_nothing(
        own_topology: Topology, writable_sim_state: SimulatorState, writable_world: World) -> None:
    settings = {**own_topology.settings, "erasure": FAST, "redis_failover_seconds": 30.0,
                "limits": {"budget_maximum": 10**6, "budget_restore_rate": 0.001}}
    opened = [await open_gateway(writable_sim_state, **settings) for _ in range(3)]
    gateways = [gateway for gateway, _ in opened]
    load = Load(gateways)
    people = [c for c in writable_world.contacts if not c["archived"]]
    erased, written = people[:6], people[10:40]
    try:
        for gateway in gateways:
            gateway.app.state.writes.start()
        stop = asyncio.Event()
        readers = [asyncio.create_task(load.reads(stop)) for _ in range(3)]
        for contact in erased[:3]:  # erasures and writes before the failure
            assert "errors" not in await load.post(load.next(), ERASE, {"id": customer_id(contact)}, token=DPO)
        await asyncio.gather(*(load.write(c) for c in written[:10]))

        own_topology.master_of(JOBS_KEY).kill()   # mid-load: readers still running, writes follow at once
        killed_at = time.monotonic()
        await asyncio.gather(*(load.write(c) for c in written[10:20]),
                             *(load.post(load.next(), ERASE, {"id": customer_id(c)}, token=DPO) for c in erased[3:]))
        failover_took = time.monotonic() - killed_at
        await asyncio.gather(*(load.write(c) for c in written[20:]))
        stop.set()
        await asyncio.gather(*readers)

        assert not [s for s in load.statuses if s >= 500], load.statuses
        assert load.statuses[200] > 0 and failover_took < 30
        assert len(load.firsts) == len(written), load.codes  # every write answered, through the failover too

        # Every erasure ends, each exactly once.
        for contact in erased:
            await _completed(load, customer_id(contact))
        audit = await gateways[0].app.state.writes.erasure.store.audit_log()
        assert sorted(entry["customerId"] for entry in audit) == sorted(c["id"] for c in erased)

        # Every idempotent write replays on every instance, with no second write upstream.
        patches = writable_sim_state.by_route["hubspot"].copy()
        for key, first in load.firsts.items():
            for gateway in gateways:
                again = await load.post(gateway, UPDATE, first["variables"])
                assert again["data"]["updateCustomer"]["replayed"] is True, (key, again)
                assert again["data"]["updateCustomer"]["customer"] == first["customer"]
        assert writable_sim_state.by_route["hubspot"] == patches

        # Budgets are one bucket across instances again once Redis is back.
        await _budgets_shared(gateways)
    finally:
        for _, close in opened:
            await close()


async def _completed(load: Load, gid: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        job = (await load.post(load.gateways[0], STATUS, {"id": gid}, token=DPO))["data"]["erasureStatus"]
        if job is not None and job["state"] == "COMPLETED":
            return
        assert time.monotonic() < deadline, f"erasure of {gid} not finished: {job}"
        await asyncio.sleep(0.1)


async def _budgets_shared(gateways: list[Gateway], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        token = token_for("marketer", sub=f"after-{uuid.uuid4().hex[:8]}")
        levels = []
        for gateway in (*gateways, gateways[0]):
            body = await gateway.query(READS[0], token=token)
            levels.append(body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"])
        if levels == sorted(levels, reverse=True) and len(set(levels)) == len(levels):
            return  # each instance saw the others' spending: shared again
        assert time.monotonic() < deadline, f"budgets still metered per instance: {levels}"
        await asyncio.sleep(1.0)
