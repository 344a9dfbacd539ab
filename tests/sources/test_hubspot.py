"""HubSpotContacts against the HubSpot simulator: paging, batching, partial batches, quirks, limits."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harmonia.errors import UpstreamAuthFailed, UpstreamUnavailable
from harmonia.settings import HubSpotSettings
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.hubspot import throttle_for
from harmonia.sources.hubspot import HubSpotContacts, _contact
from harmonia.sources.records import Contact

BASE = "http://simulators/hubspot"
BATCH_ROUTE = "POST /crm/objects/2026-09/contacts/batch/read"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


@pytest.fixture
async def contacts(transport: httpx.ASGITransport) -> AsyncIterator[HubSpotContacts]:
    connector = HubSpotContacts.from_settings(HubSpotSettings(base_url=BASE), transport=transport)
    yield connector
    await connector.aclose()


def live(world: World) -> list[dict[str, Any]]:
    return [c for c in world.contacts if not c["archived"]]


async def batch_calls(sim_client: httpx.AsyncClient) -> int:
    stats = (await sim_client.get("/__stats")).json()
    return int(stats["hubspot"]["by_route"].get(BATCH_ROUTE, 0))


async def requested_batch_keys(sim_client: httpx.AsyncClient) -> list[str]:
    log = (await sim_client.get("/__requests", params={"source": "hubspot"})).json()
    keys: list[str] = []
    for entry in log:
        if entry["route"] == "/crm/objects/2026-09/contacts/batch/read":
            keys += [item["id"] for item in httpx.Response(200, content=entry["body"]).json()["inputs"]]
    return keys


async def test_all_contacts_returns_every_live_contact_exactly_once(
    contacts: HubSpotContacts, world: World
) -> None:
    everyone = await contacts.all_contacts()
    ids = [c.id for c in everyone]
    assert len(ids) == len(set(ids))
    assert ids == [c["id"] for c in live(world)]
    assert not any(c.archived for c in everyone)


async def test_a_page_hands_back_hubspots_cursor_and_asks_for_live_contacts_explicitly(
    contacts: HubSpotContacts, sim_client: httpx.AsyncClient, world: World
) -> None:
    first = await contacts.list_contacts(limit=25)
    second = await contacts.list_contacts(limit=25, after=first.next_cursor)
    assert [c.id for c in first.items + second.items] == [c["id"] for c in live(world)[:50]]
    log = (await sim_client.get("/__requests", params={"source": "hubspot"})).json()
    assert all("archived=false" in entry["query"] for entry in log)
    assert all("shopify_customer_id" in entry["query"] for entry in log)


async def test_a_page_larger_than_hubspot_allows_is_clamped_to_100(contacts: HubSpotContacts) -> None:
    page = await contacts.list_contacts(limit=500)
    assert len(page.items) == 100 and page.next_cursor is not None


async def test_250_ids_are_read_in_three_batch_calls(
    contacts: HubSpotContacts, sim_client: httpx.AsyncClient, world: World
) -> None:
    wanted = [c["id"] for c in live(world)[:250]]
    found = await contacts.batch_read(wanted)
    assert sorted(found) == sorted(wanted)
    assert await batch_calls(sim_client) == 3


async def test_batch_read_never_asks_for_the_same_id_twice(
    contacts: HubSpotContacts, sim_client: httpx.AsyncClient, world: World
) -> None:
    wanted = [c["id"] for c in live(world)[:150]]
    found = await contacts.batch_read(wanted + wanted[:80] + [f" {wanted[0]} "])
    assert len(found) == 150
    keys = await requested_batch_keys(sim_client)
    assert sorted(keys) == sorted(wanted)
    assert await batch_calls(sim_client) == 2


async def test_bogus_ids_in_a_batch_leave_the_found_contacts_intact(
    contacts: HubSpotContacts, sim_client: httpx.AsyncClient, world: World
) -> None:
    real = [c["id"] for c in live(world)[:5]]
    archived = next(c["id"] for c in world.contacts if c["archived"])
    found = await contacts.batch_read([*real, "1", "999999999", archived, "not-an-id"])
    assert sorted(found) == sorted(real)
    assert found[real[0]].id == real[0]
    # The non-numeric id never reaches HubSpot: it cannot name a contact.
    assert "not-an-id" not in await requested_batch_keys(sim_client)


async def test_batch_read_of_nothing_makes_no_call(
    contacts: HubSpotContacts, sim_client: httpx.AsyncClient
) -> None:
    assert await contacts.batch_read([]) == {}
    assert await contacts.batch_read_by_email(["", "   "]) == {}
    assert await batch_calls(sim_client) == 0


async def test_batch_read_by_email_keys_by_normalized_email_and_dedupes(
    contacts: HubSpotContacts, sim_client: httpx.AsyncClient, world: World
) -> None:
    messy = [c for c in live(world) if c["properties"]["email"] != c["properties"]["email"].strip().lower()]
    typed = [c["properties"]["email"] for c in messy[:120]]
    asked = typed + [e.strip().upper() for e in typed] + ["nobody@nowhere.example"]
    found = await contacts.batch_read_by_email(asked)
    expected = {c["properties"]["email"].strip().lower(): c["id"] for c in messy[:120]}
    assert {email: contact.id for email, contact in found.items()} == expected
    keys = await requested_batch_keys(sim_client)
    assert Counter(keys).most_common(1)[0][1] == 1
    assert len(keys) == 121 and await batch_calls(sim_client) == 2


async def test_get_contact_finds_live_ones_and_answers_none_otherwise(
    contacts: HubSpotContacts, sim_client: httpx.AsyncClient, world: World
) -> None:
    first = live(world)[0]
    archived = next(c["id"] for c in world.contacts if c["archived"])
    contact = await contacts.get_contact(first["id"])
    assert contact is not None and contact.id == first["id"]
    assert await contacts.get_contact("999999999") is None
    assert await contacts.get_contact(archived) is None
    before = (await sim_client.get("/__stats")).json()["hubspot"]["requests"]
    assert await contacts.get_contact("../batch/read") is None
    assert (await sim_client.get("/__stats")).json()["hubspot"]["requests"] == before


async def test_search_by_email_finds_the_contact_whatever_the_case_or_spacing(
    contacts: HubSpotContacts, world: World
) -> None:
    shouty = next(c for c in live(world) if c["properties"]["email"] == c["properties"]["email"].upper())
    found = await contacts.search_by_email(f"  {shouty['properties']['email'].title()} ")
    assert found is not None and found.id == shouty["id"]
    assert found.email == shouty["properties"]["email"].lower()
    assert await contacts.search_by_email("nobody@nowhere.example") is None
    assert await contacts.search_by_email("   ") is None


async def test_contacts_come_back_normalized(contacts: HubSpotContacts, world: World) -> None:
    everyone = {c.id: c for c in await contacts.all_contacts()}
    for wire in live(world):
        contact, props = everyone[wire["id"]], wire["properties"]
        assert contact.email == props["email"].strip().lower()
        assert contact.created_at is not None and ISO_Z.match(contact.created_at)
        if props["phone"] is None:
            assert contact.phone is None
        else:
            assert contact.phone is not None and re.fullmatch(r"\+\d{8,15}", contact.phone)
    by_typed_phone = {c["properties"]["phone"]: c["id"] for c in live(world) if c["properties"]["phone"]}
    assert everyone[by_typed_phone["(867) 249-2186"]].phone == "+18672492186"
    # Contact 172's createdate came from an import as epoch millis (1688516280000).
    assert world.contacts[7]["properties"]["createdate"] == "1688516280000"
    assert everyone["172"].created_at == "2023-07-05T00:18:00Z"
    assert everyone["172"].shopify_customer_id is None
    linked = next(c for c in live(world) if c["properties"]["shopify_customer_id"])
    assert everyone[linked["id"]].shopify_customer_id == linked["properties"]["shopify_customer_id"]


async def test_created_at_falls_back_to_the_objects_created_at() -> None:
    props = {"hs_object_id": "501", "email": " Solo@Example.com", "createdate": None,
             "lastmodifieddate": None, "phone": "+44 20 7946 0000"}
    bare = {"id": "501", "properties": props, "createdAt": "2024-03-01T10:15:00.000Z",
            "updatedAt": "2024-05-02T08:00:00.000Z", "archived": False}
    state = SimulatorState(SimulatorConfig(), world=World(contacts=[bare]))
    transport = httpx.ASGITransport(app=create_simulator_app(state=state))
    connector = HubSpotContacts.from_settings(HubSpotSettings(base_url=BASE), transport=transport)
    try:
        contact = await connector.get_contact("501")
    finally:
        await connector.aclose()
    assert contact is not None
    assert contact.created_at == "2024-03-01T10:15:00Z"
    assert contact.updated_at == "2024-05-02T08:00:00Z"
    assert contact.email == "solo@example.com"
    assert contact.phone == "+442079460000"
    assert contact.first_name is None and contact.lifecycle_stage is None


@pytest.mark.parametrize(("value", "expected"), [
    ("Ada", "Ada"), ("  Ada \t", "Ada"), ("", None), ("   ", None), (None, None), (42, "42"), (1.5, "1.5"),
])
def test_a_property_is_trimmed_text_or_none(value: object, expected: str | None) -> None:
    contact = _contact({"id": "1", "properties": {"firstname": value, "email": value}})
    assert contact.first_name == expected
    assert contact.email == (expected.lower() if expected else None)


@pytest.mark.parametrize(("createdate", "created_at", "expected"), [
    ("2024-06-16T13:45:00.000Z", None, "2024-06-16T13:45:00Z"),
    ("2024-04-02T09:23:53.250-05:00", None, "2024-04-02T14:23:53.250Z"),
    ("1688516280000", None, "2023-07-05T00:18:00Z"),                           # an import: epoch millis
    (" 1688516280000 ", None, "2023-07-05T00:18:00Z"),
    (1688516280000, None, "2023-07-05T00:18:00Z"),
    ("not a date", "2024-03-01T10:15:00.000Z", "2024-03-01T10:15:00Z"),         # falls back to createdAt
    ("99999999999999999999", "2024-03-01T10:15:00.000Z", "2024-03-01T10:15:00Z"),  # beyond any calendar
    ("", "2024-03-01T10:15:00.000Z", "2024-03-01T10:15:00Z"),
    ({"value": "2024-01-01"}, "2024-03-01T10:15:00.000Z", "2024-03-01T10:15:00Z"),
    ("not a date", "garbage", None),
    (None, None, None),
])
def test_created_at_is_the_first_candidate_that_reads_as_a_datetime(
    createdate: object, created_at: object, expected: str | None
) -> None:
    contact = _contact({"id": "1", "properties": {"createdate": createdate}, "createdAt": created_at})
    assert contact.created_at == expected


def test_a_contact_without_properties_or_id() -> None:
    assert _contact({"id": 7, "properties": ["x"]}) == Contact(
        id="7", email=None, first_name=None, last_name=None, phone=None, lifecycle_stage=None, created_at=None,
        updated_at=None, shopify_customer_id=None, archived=False)
    with pytest.raises(UpstreamUnavailable):
        _contact({"id": "", "properties": {}})


async def test_a_wrong_token_is_reported_as_failed_credentials(transport: httpx.ASGITransport) -> None:
    settings = HubSpotSettings(base_url=BASE, token="pat-na1-wrong")
    connector = HubSpotContacts.from_settings(settings, transport=transport)
    try:
        with pytest.raises(UpstreamAuthFailed):
            await connector.list_contacts(limit=10)
        with pytest.raises(UpstreamAuthFailed):
            await connector.batch_read(["151"])
    finally:
        await connector.aclose()


async def test_a_429_without_retry_after_is_waited_out_from_the_window(
    contacts: HubSpotContacts, sim_state: SimulatorState, sim_client: httpx.AsyncClient, world: World
) -> None:
    throttle = throttle_for(sim_state)
    throttle.per_window, throttle.window_seconds = 3, 0.5
    # Another client of the same HubSpot account spends the window first, as a second worker would.
    auth = {"Authorization": f"Bearer {HubSpotSettings(base_url=BASE).token}"}
    for _ in range(3):
        await sim_client.get("/hubspot/crm/v3/objects/contacts", headers=auth)
    wanted = [c["id"] for c in live(world)[:250]]
    found = await contacts.batch_read(wanted)
    assert sorted(found) == sorted(wanted)
    assert throttle.rejected >= 1


async def test_a_source_that_stays_down_is_reported_unavailable(
    contacts: HubSpotContacts, sim_client: httpx.AsyncClient
) -> None:
    await sim_client.post("/__faults", json={"source": "hubspot", "status": 503, "rate": 1.0, "seconds": 30})
    with pytest.raises(UpstreamUnavailable):
        await contacts.list_contacts(limit=10)
