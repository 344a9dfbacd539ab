"""An open circuit and the entity cache together: what was read before answers stale, nothing is sent.

The issue's promise: "an open circuit answers at once with UPSTREAM_UNAVAILABLE (or stale data from
the cache)". Mailchimp's list members are the records here; HubSpot (the customers themselves)
stays healthy throughout, so only ``emailMarketingStatus`` is at stake.
"""

from __future__ import annotations

import asyncio
from typing import Any

from harmonia.sources.discipline import circuit_of
from tests.cache.conftest import CachedGateway, MakeGateway

# Members go past their TTL quickly; the stale-if-error window stays long.
MEMBERS = {"ttl": 1.0, "stale_while_revalidate": 0, "stale_if_error": 3600}
RESET_SECONDS = 4.0  # how long the circuit stays open: the open-period queries take milliseconds
UPSTREAM = {"circuit_failure_threshold": 3, "circuit_reset_seconds": RESET_SECONDS}


def customers(first: int) -> str:
    return f"{{ customers(first: {first}) {{ edges {{ node {{ email emailMarketingStatus }} }} }} }}"


async def mailchimp_requests(gw: CachedGateway) -> int:
    requests: int = (await gw.sim_stats())["mailchimp"]["requests"]
    return requests


def stale_paths(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(s["path"]): s for s in body.get("extensions", {}).get("stale", [])}


async def test_an_open_circuit_serves_cached_members_stale_and_sends_nothing(make_gateway: MakeGateway) -> None:
    # One try per member: three concurrent failures open the circuit in one query.
    gw = await make_gateway(cache={"members": MEMBERS}, upstream=UPSTREAM, sources={"mailchimp": {"max_retries": 0}})
    circuit = circuit_of(gw.app.state.sources.mailchimp)
    assert circuit is not None
    before = await gw.query(customers(3))
    assert "errors" not in before
    statuses = [e["node"]["emailMarketingStatus"] for e in before["data"]["customers"]["edges"]]
    assert any(statuses), statuses  # a contact without a list member reads None, cached as such
    await asyncio.sleep(MEMBERS["ttl"] + 0.3)  # past the TTL: the next read asks Mailchimp again
    await gw.fault("mailchimp", 503, seconds=60)

    opening = await gw.query(customers(3))  # Mailchimp fails 503 three times: the circuit opens
    assert await circuit.state() == "open"
    sent_while_closed = await mailchimp_requests(gw)
    during = await gw.query(customers(3))
    wider = await gw.query(customers(6))  # three members cached (stale), three never read
    sent_while_open = await mailchimp_requests(gw) - sent_while_closed

    assert sent_while_open == 0, "the open circuit let calls through to Mailchimp"
    for body in (opening, during):
        assert "errors" not in body, body
        assert body["data"] == before["data"]
        notes = stale_paths(body)
        assert set(notes) == {("customers", "edges", i, "node", "emailMarketingStatus") for i in range(3)}
        assert all(n["source"] == "mailchimp" and n["ageSeconds"] >= MEMBERS["ttl"] for n in notes.values())
    edges = wider["data"]["customers"]["edges"]
    assert [e["node"]["emailMarketingStatus"] for e in edges[:3]] == statuses
    assert [e["node"]["email"] for e in edges[:3]] == [e["node"]["email"] for e in before["data"]["customers"]["edges"]]
    assert all(e["node"]["email"] for e in edges[3:]), "HubSpot's part must answer whatever Mailchimp does"
    assert [e["node"]["emailMarketingStatus"] for e in edges[3:]] == [None] * 3
    errors = wider["errors"]
    assert {tuple(e["path"]) for e in errors} == {("customers", "edges", i, "node", "emailMarketingStatus")
                                                  for i in range(3, 6)}
    assert all(e["extensions"]["code"] == "UPSTREAM_UNAVAILABLE" and e["extensions"]["source"] == "mailchimp"
               and e["extensions"].get("circuit") == "open" for e in errors)
    assert set(stale_paths(wider)) == {("customers", "edges", i, "node", "emailMarketingStatus") for i in range(3)}

    await gw.clear_faults()
    await asyncio.sleep(RESET_SECONDS + 0.3)
    after = await gw.query(customers(6))

    assert "errors" not in after and "stale" not in after["extensions"], after
    assert [e["node"]["emailMarketingStatus"] for e in after["data"]["customers"]["edges"][:3]] == statuses
    assert any(e["node"]["emailMarketingStatus"] for e in after["data"]["customers"]["edges"][3:])
    assert await mailchimp_requests(gw) > sent_while_closed  # fresh answers, from Mailchimp itself
    assert await circuit.state() == "closed"
