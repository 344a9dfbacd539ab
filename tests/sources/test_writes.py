"""The connectors' write side: retried only when sending twice is harmless, refusals as BAD_USER_INPUT."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harmonia.errors import BadUserInput, UpstreamUnavailable
from harmonia.settings import HubSpotSettings, MailchimpSettings, ShopifySettings
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import Fault, SimulatorState
from harmonia.simulators.data import World
from harmonia.sources.hubspot import HubSpotContacts
from harmonia.sources.mailchimp import MailchimpAccount
from harmonia.sources.shopify import ShopifyStore
from harmonia.sources.writes import HubSpotWrites, MailchimpWrites, ShopifyWrites
from tests.conftest import SIM_BASE


@pytest.fixture
def transport(writable_sim_state: SimulatorState) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_simulator_app(state=writable_sim_state))


@pytest.fixture
async def hubspot(transport: httpx.ASGITransport) -> AsyncIterator[HubSpotWrites]:
    contacts = HubSpotContacts.from_settings(HubSpotSettings(base_url=f"{SIM_BASE}/hubspot"), transport=transport)
    contacts.http.backoff_base = 0.001
    yield HubSpotWrites(contacts)
    await contacts.aclose()


def fail(sim: SimulatorState, source: str) -> None:
    sim.faults[source] = Fault(status=503, rate=1.0, latency_ms=0, until=float("inf"))


def calls(sim: SimulatorState, route_end: str) -> int:
    return sum(1 for r in sim.log if r["route"].endswith(route_end))


async def test_a_delete_is_sent_once_however_the_source_fails(
    hubspot: HubSpotWrites, writable_sim_state: SimulatorState, writable_world: World
) -> None:
    fail(writable_sim_state, "hubspot")
    with pytest.raises(UpstreamUnavailable):
        await hubspot.gdpr_delete(writable_world.contacts[0]["id"])
    assert calls(writable_sim_state, "gdpr-delete") == 1


async def test_a_property_update_is_retried_because_sending_it_twice_is_harmless(
    hubspot: HubSpotWrites, writable_sim_state: SimulatorState, writable_world: World
) -> None:
    fail(writable_sim_state, "hubspot")
    with pytest.raises(UpstreamUnavailable):
        await hubspot.update_contact(writable_world.contacts[0]["id"], {"lifecyclestage": "lead"})
    assert calls(writable_sim_state, "{contact_id}") == 1 + HubSpotSettings(base_url="x").max_retries


async def test_shopify_erasure_is_requested_through_customer_request_data_erasure(
    transport: httpx.ASGITransport, writable_world: World
) -> None:
    store = ShopifyStore.from_settings(ShopifySettings(base_url=f"{SIM_BASE}/shopify"), transport=transport)
    try:
        buyer = next(c for c in writable_world.shopify_customers if writable_world.customer_orders(c["id"]))
        total = [o["total_price"] for o in writable_world.customer_orders(buyer["id"])]
        erased = await ShopifyWrites(store).erase_customer(str(buyer["id"]))
        assert (erased.outcome, erased.mechanism) == ("ERASURE_REQUESTED", "customerRequestDataErasure")
        assert (buyer["email"], buyer["phone"], buyer["first_name"], buyer["tags"]) == (None, None, None, "")
        assert [o["total_price"] for o in writable_world.customer_orders(buyer["id"])] == total
        again = await ShopifyWrites(store).erase_customer("1")
        assert again.outcome == "ABSENT"
    finally:
        await store.aclose()


async def test_shopify_consent_refusals_name_the_field_and_an_unknown_customer_is_none(
    transport: httpx.ASGITransport, writable_world: World
) -> None:
    store = ShopifyStore.from_settings(ShopifySettings(base_url=f"{SIM_BASE}/shopify"), transport=transport)
    try:
        writes = ShopifyWrites(store)
        assert await writes.set_email_marketing_consent("1", "unsubscribed") is None
        customer = next(c for c in writable_world.shopify_customers if c["email"])
        changed = await writes.set_email_marketing_consent(str(customer["id"]), "pending")
        assert changed is not None and changed.email_marketing_state == "pending"
        assert customer["email_marketing_consent"]["opt_in_level"] == "confirmed_opt_in"
    finally:
        await store.aclose()


async def test_mailchimp_refusing_an_erased_address_is_bad_input(
    transport: httpx.ASGITransport, writable_world: World
) -> None:
    account = MailchimpAccount.from_settings(MailchimpSettings(base_url=f"{SIM_BASE}/mailchimp"), transport=transport)
    try:
        member = next(iter(writable_world.members.values()))
        writes = MailchimpWrites(account)
        assert (await writes.delete_member_permanently(member["id"])).outcome == "DELETED"
        with pytest.raises(BadUserInput, match="permanently erased"):
            await writes.set_member_status(member["email_address"], "subscribed")
    finally:
        await account.aclose()
