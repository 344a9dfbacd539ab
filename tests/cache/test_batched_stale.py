"""A batched field (``Order.customer``: one batch for a page of orders) still answers each order as
its own: stale contacts noted on exactly their orders, contacts that could not be read null with a
located error on exactly theirs, and the same answer from graphql-core's per-object resolver.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.cache.conftest import CachedGateway, MakeGateway

CONTACTS = {"ttl": 1.0, "stale_while_revalidate": 0, "stale_if_error": 3600}


def orders(first: int) -> str:
    return f"{{ orders(first: {first}) {{ edges {{ node {{ name customer {{ email firstName }} }} }} }} }}"


async def first_four_read(make_gateway: MakeGateway, compiled: bool) -> tuple[CachedGateway, dict[str, Any]]:
    """A gateway that has read the first four orders' contacts (short TTL, long stale-if-error)."""
    gw = await make_gateway(cache={"contacts": CONTACTS, "responses": False}, execution={"compiled": compiled},
                            sources={"hubspot": {"max_retries": 0}})
    first = await gw.query(orders(4))
    assert "errors" not in first
    return gw, first


async def hubspot_down_after_the_ttl(gw: CachedGateway) -> None:
    await asyncio.sleep(CONTACTS["ttl"] + 0.3)  # every contact past its TTL: reads go to HubSpot again
    await gw.fault("hubspot", 503, seconds=60)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "graphql-core"])
async def test_each_order_gets_its_own_stale_note_or_error_when_hubspot_is_down(
    make_gateway: MakeGateway, compiled: bool,
) -> None:
    gw, _ = await first_four_read(make_gateway, compiled)
    wider = await gw.query(orders(8))  # what the eight look like while HubSpot is up
    assert "errors" not in wider
    with_customer = [i for i, e in enumerate(wider["data"]["orders"]["edges"]) if e["node"]["customer"]]
    assert any(i < 4 for i in with_customer) and any(i >= 4 for i in with_customer), with_customer

    await hubspot_down_after_the_ttl(gw)
    during = await gw.query(orders(8))

    edges = during["data"]["orders"]["edges"]
    notes = {tuple(n["path"]): n for n in during.get("extensions", {}).get("stale", [])}
    # Every contact was read while HubSpot was up: all are served stale, each noted on its own order.
    assert set(notes) == {("orders", "edges", i, "node", "customer") for i in with_customer}, notes
    assert all(n["source"] == "hubspot" and n["ageSeconds"] >= CONTACTS["ttl"] for n in notes.values())
    assert "errors" not in during
    assert during["data"] == wider["data"]
    assert [e["node"]["customer"] is not None for e in edges] == [i in with_customer for i in range(8)]


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "graphql-core"])
async def test_orders_whose_contacts_were_never_read_get_null_and_an_error_each(
    make_gateway: MakeGateway, compiled: bool,
) -> None:
    gw, first = await first_four_read(make_gateway, compiled)
    known = [i for i, e in enumerate(first["data"]["orders"]["edges"]) if e["node"]["customer"]]
    assert known
    await hubspot_down_after_the_ttl(gw)

    during = await gw.query(orders(8))

    edges = during["data"]["orders"]["edges"]
    failed = {tuple(e["path"]) for e in during.get("errors", [])}
    codes = {e["extensions"]["code"] for e in during.get("errors", [])}
    notes = {tuple(n["path"]) for n in during.get("extensions", {}).get("stale", [])}
    assert notes == {("orders", "edges", i, "node", "customer") for i in known}
    assert failed and codes == {"UPSTREAM_UNAVAILABLE"}
    # The failures are on the last four orders' customer fields only; those orders keep their names.
    assert all(p[:2] == ("orders", "edges") and p[2] >= 4 and p[3:] == ("node", "customer") for p in failed), failed
    assert all(edges[p[2]]["node"]["customer"] is None and edges[p[2]]["node"]["name"] for p in failed)
    for i in known:
        assert edges[i]["node"]["customer"] == first["data"]["orders"]["edges"][i]["node"]["customer"]


async def test_both_executors_answer_a_failing_batch_identically(make_gateway: MakeGateway) -> None:
    answers: list[dict[str, Any]] = []
    for compiled in (True, False):
        gw = await make_gateway(cache={"responses": False, "enabled": False}, execution={"compiled": compiled},
                                sources={"hubspot": {"max_retries": 0}})
        await gw.fault("hubspot", 503, seconds=60)
        answers.append(await gw.query(orders(10)))
        await gw.clear_faults()
    compiled_answer, reference = answers
    assert compiled_answer == reference
    assert len(compiled_answer["errors"]) >= 2
