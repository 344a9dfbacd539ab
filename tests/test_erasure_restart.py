"""An erasure survives a gateway restart: real gateway processes, a real simulator process, real Redis.

The gateway is killed (SIGKILL: no shutdown code runs) while one source is faulted via the
simulator's ``/__faults``; a new gateway process, asked nothing, finishes the job from Redis.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.data import World, subscriber_hash
from tests.conftest import SOURCES, TEST_SECRET_ENV, token_for
from tests.schema.test_mutations import customer_id

DPO = token_for("admin", sub="dpo@example.com", scopes=("privacy",))
STATUS = """query($id: ID!) { erasureStatus(id: $id) { id state
  sources { source state outcome attempts lastError }
  audit { requestedBy state sources { source state outcome mechanism httpStatus attempts confirmedAt } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(args: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "harmonia.cli", *args], env=env, cwd=Path(__file__).parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return proc
        except httpx.HTTPError:
            assert proc.poll() is None, f"{args[0]} exited with {proc.returncode}"
            time.sleep(0.1)
    _stop(proc)
    raise AssertionError(f"{args[0]} did not come up")


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture
def processes(redis_url: str) -> Iterator[tuple[str, Callable[[], tuple[str, subprocess.Popen[bytes]]]]]:
    """The simulator process, and a function that starts a gateway process over it and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIA_")}
    sim_port = _free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    started: list[subprocess.Popen[bytes]] = []
    started.append(_start(["simulate", "--port", str(sim_port), "--no-rate-limits"], env, f"{sim_url}/__stats"))
    prefix = f"test-{uuid.uuid4().hex}:"
    gateway_env = {
        **env, **TEST_SECRET_ENV, "HARMONIA_REDIS_URL": redis_url,
        "HARMONIA_ERASURE__KEY_PREFIX": prefix + "erasure:", "HARMONIA_IDEMPOTENCY__KEY_PREFIX": prefix + "idem:",
        "HARMONIA_ERASURE__RETRY_BASE_SECONDS": "0.2", "HARMONIA_ERASURE__RETRY_MAX_SECONDS": "0.5",
        "HARMONIA_ERASURE__POLL_SECONDS": "0.2", "HARMONIA_ERASURE__LEASE_SECONDS": "2",
        **{f"HARMONIA_SOURCES__{s.upper()}__BASE_URL": f"{sim_url}/{s}" for s in SOURCES},
    }

    def gateway() -> tuple[str, subprocess.Popen[bytes]]:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _start(["serve", "--port", str(port)], gateway_env, f"{url}/healthz")
        started.append(proc)
        return url, proc

    try:
        yield sim_url, gateway
    finally:
        for proc in reversed(started):
            _stop(proc)


def _status(url: str, gid: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": STATUS, "variables": {"id": gid}},
                          headers={"Authorization": f"Bearer {DPO}"}, timeout=10)
    job: dict[str, Any] = response.json()["data"]["erasureStatus"]
    return job


def _wait(url: str, gid: str, done: Callable[[dict[str, Any]], bool], seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job = _status(url, gid)
        if job is not None and done(job):
            return job
        assert time.monotonic() < deadline, f"the erasure did not get there: {job}"
        time.sleep(0.1)


def _by_source(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["source"]: s for s in steps}


def test_an_erasure_survives_a_gateway_restart_and_retries_the_faulted_source(
    processes: tuple[str, Callable[[], tuple[str, subprocess.Popen[bytes]]]], world: World
) -> None:
    sim_url, start_gateway = processes
    shop = {c["id"]: c for c in world.shopify_customers}
    contact = next(c for c in world.contacts if not c["archived"] and c["properties"]["shopify_customer_id"]
                   and world.customer_orders(shop[int(c["properties"]["shopify_customer_id"])]["id"])
                   and subscriber_hash(c["properties"]["email"]) in world.members)
    gid, member_hash = customer_id(contact), subscriber_hash(contact["properties"]["email"])
    assert httpx.post(f"{sim_url}/__faults", json={"source": "mailchimp", "status": 503, "rate": 1.0,
                                                   "seconds": 300}).status_code == 200

    first_url, first = start_gateway()
    started = httpx.post(f"{first_url}/graphql", json={"query": "mutation($id: ID!) { eraseCustomer(id: $id) { id } }",
                                                      "variables": {"id": gid}},
                         headers={"Authorization": f"Bearer {DPO}"}, timeout=10).json()
    assert "errors" not in started, started
    before = _wait(first_url, gid, lambda j: _by_source(j["sources"])["mailchimp"]["attempts"] >= 2
                   and _by_source(j["sources"])["hubspot"]["state"] == "CONFIRMED"
                   and _by_source(j["sources"])["shopify"]["state"] == "CONFIRMED")
    assert before["state"] == "RUNNING"
    assert _by_source(before["sources"])["mailchimp"]["state"] == "RETRYING"

    _stop(first, signal.SIGKILL)  # a crash: no shutdown, the job's lease still held in Redis
    assert httpx.delete(f"{sim_url}/__faults").status_code == 200  # Mailchimp recovers

    second_url, _ = start_gateway()  # asked nothing: it finds the unfinished job at startup
    job = _wait(second_url, gid, lambda j: j["state"] != "RUNNING")

    assert job["id"] == started["data"]["eraseCustomer"]["id"]
    assert job["state"] == "COMPLETED"
    audit = _by_source(job["audit"]["sources"])
    assert job["audit"]["requestedBy"] == "dpo@example.com"
    assert {s: (a["state"], a["outcome"]) for s, a in audit.items()} == {
        "hubspot": ("CONFIRMED", "DELETED"), "shopify": ("CONFIRMED", "ERASURE_REQUESTED"),
        "mailchimp": ("CONFIRMED", "DELETED"), "ga4": ("NOT_APPLICABLE", "NOT_APPLICABLE"),
        "googleads": ("NOT_APPLICABLE", "NOT_APPLICABLE")}
    assert audit["mailchimp"]["attempts"] > _by_source(before["sources"])["mailchimp"]["attempts"]
    assert all(a["confirmedAt"] for a in audit.values())
    # The simulators' state, read as a client of each API would.
    creds = DEMO_CREDENTIALS
    assert httpx.get(f"{sim_url}/hubspot/crm/v3/objects/contacts/{contact['id']}",
                     headers={"Authorization": f"Bearer {creds['hubspot_token']}"}).status_code == 404
    assert httpx.get(f"{sim_url}/mailchimp/3.0/lists/{creds['mailchimp_list_id']}/members/{member_hash}",
                     auth=("x", creds["mailchimp_api_key"])).status_code == 404
    shop_customer = httpx.post(
        f"{sim_url}/shopify/admin/api/2026-10/graphql.json",
        json={"query": "query($id: ID!) { customer(id: $id) { firstName defaultEmailAddress { emailAddress } "
                       "emailMarketingConsent { marketingState } } }",
              "variables": {"id": f"gid://shopify/Customer/{contact['properties']['shopify_customer_id']}"}},
        headers={"X-Shopify-Access-Token": creds["shopify_token"]}).json()["data"]["customer"]
    assert shop_customer == {"firstName": None, "defaultEmailAddress": None, "emailMarketingConsent": None}
