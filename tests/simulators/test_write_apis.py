"""The simulators' write routes answer as the real APIs do: formats, refusals, and state that changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harmonia.settings import DEMO_CREDENTIALS as CREDS
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World

HUBSPOT = {"Authorization": f"Bearer {CREDS['hubspot_token']}"}
SHOPIFY = {"X-Shopify-Access-Token": CREDS["shopify_token"]}
MAILCHIMP = ("anystring", CREDS["mailchimp_api_key"])
ADS = {"Authorization": f"Bearer {CREDS['googleads_token']}", "developer-token": CREDS["googleads_developer_token"]}
CONTACTS = "/hubspot/crm/v3/objects/contacts"
CUSTOMERS = "/shopify/admin/api/2024-04/customers"
MEMBERS = f"/mailchimp/3.0/lists/{CREDS['mailchimp_list_id']}/members"
MUTATE = f"/googleads/v26/customers/{CREDS['googleads_customer_id']}/campaigns:mutate"


@pytest.fixture
async def client(writable_sim_state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_simulator_app(state=writable_sim_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators") as c:
        yield c


def live(world: World) -> list[dict[str, Any]]:
    return [c for c in world.contacts if not c["archived"]]


async def test_hubspot_patch_sets_only_the_named_properties(client: httpx.AsyncClient, writable_world: World) -> None:
    contact = live(writable_world)[0]
    name = contact["properties"]["firstname"]
    response = await client.patch(f"{CONTACTS}/{contact['id']}", headers=HUBSPOT,
                                  json={"properties": {"lifecyclestage": "lead", "phone": None}})
    assert response.status_code == 200
    assert response.json()["properties"]["lifecyclestage"] == "lead"
    read = (await client.get(f"{CONTACTS}/{contact['id']}", params={"properties": "firstname,phone,lifecyclestage"},
                             headers=HUBSPOT)).json()["properties"]
    assert read["firstname"] == name and read["lifecyclestage"] == "lead" and "phone" not in read


@pytest.mark.parametrize(("properties", "status", "category"), [
    ({"favourite_colour": "blue"}, 400, "VALIDATION_ERROR"),
    ({"email": "not an email"}, 400, "VALIDATION_ERROR"),
    ({"lifecyclestage": "vip"}, 400, "VALIDATION_ERROR"),
])
async def test_hubspot_patch_refusals(client: httpx.AsyncClient, writable_world: World,
                                      properties: dict[str, str], status: int, category: str) -> None:
    contact = live(writable_world)[0]
    response = await client.patch(f"{CONTACTS}/{contact['id']}", headers=HUBSPOT, json={"properties": properties})
    assert response.status_code == status
    assert response.json()["category"] == category and response.json()["status"] == "error"


async def test_hubspot_patch_to_an_email_another_contact_has_is_a_conflict(
    client: httpx.AsyncClient, writable_world: World
) -> None:
    first, second = live(writable_world)[:2]
    response = await client.patch(f"{CONTACTS}/{first['id']}", headers=HUBSPOT,
                                  json={"properties": {"email": second["properties"]["email"]}})
    assert response.status_code == 409
    assert response.json()["message"] == f"Contact already exists. Existing ID: {second['id']}"


async def test_hubspot_gdpr_delete_removes_the_contact_for_good(
    client: httpx.AsyncClient, writable_world: World
) -> None:
    contact = live(writable_world)[0]
    assert (await client.post(f"{CONTACTS}/gdpr-delete", headers=HUBSPOT,
                              json={"objectId": contact["id"]})).status_code == 204
    for archived in ("false", "true"):
        gone = await client.get(f"{CONTACTS}/{contact['id']}", params={"archived": archived}, headers=HUBSPOT)
        assert gone.status_code == 404
    again = await client.post(f"{CONTACTS}/gdpr-delete", headers=HUBSPOT, json={"objectId": contact["id"]})
    assert again.status_code == 404 and again.json()["category"] == "OBJECT_NOT_FOUND"
    assert (await client.post(f"{CONTACTS}/gdpr-delete", json={"objectId": "1"})).status_code == 401


async def test_shopify_customer_update_and_its_refusals(client: httpx.AsyncClient, writable_world: World) -> None:
    customer, other = writable_world.shopify_customers[:2]
    url = f"{CUSTOMERS}/{customer['id']}.json"
    consent = {"state": "subscribed", "opt_in_level": "confirmed_opt_in", "consent_updated_at": "2026-11-25T10:00:00Z"}
    ok = await client.put(url, headers=SHOPIFY, json={"customer": {"id": customer["id"], "note": "VIP",
                                                                    "email_marketing_consent": consent}})
    assert ok.status_code == 200 and ok.json()["customer"]["email_marketing_consent"] == consent
    bad = await client.put(url, headers=SHOPIFY, json={"customer": {"email": other["email"].strip()}})
    assert bad.status_code == 422 and bad.json() == {"errors": {"email": ["has already been taken"]}}
    bad_state = await client.put(url, headers=SHOPIFY, json={"customer": {"email_marketing_consent": {"state": "x"}}})
    assert bad_state.status_code == 422 and "email_marketing_consent" in bad_state.json()["errors"]
    assert (await client.put(f"{CUSTOMERS}/1.json", headers=SHOPIFY, json={"customer": {}})).status_code == 404


async def test_shopify_refuses_to_delete_a_customer_with_orders(
    client: httpx.AsyncClient, writable_world: World
) -> None:
    with_orders = next(c for c in writable_world.shopify_customers if writable_world.customer_orders(c["id"]))
    without = next(c for c in writable_world.shopify_customers if not writable_world.customer_orders(c["id"]))
    refused = await client.delete(f"{CUSTOMERS}/{with_orders['id']}.json", headers=SHOPIFY)
    assert refused.status_code == 422 and "base" in refused.json()["errors"]
    deleted = await client.delete(f"{CUSTOMERS}/{without['id']}.json", headers=SHOPIFY)
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert (await client.get(f"{CUSTOMERS}/{without['id']}.json", headers=SHOPIFY)).status_code == 404


async def test_mailchimp_permanent_delete_forgets_the_address(client: httpx.AsyncClient, writable_world: World) -> None:
    member = next(iter(writable_world.members.values()))
    url = f"{MEMBERS}/{member['id']}"
    assert (await client.post(f"{url}/actions/delete-permanent", auth=MAILCHIMP)).status_code == 204
    assert (await client.get(url, auth=MAILCHIMP)).status_code == 404
    readd = await client.put(url, auth=MAILCHIMP, json={"email_address": member["email_address"],
                                                        "status_if_new": "subscribed"})
    assert readd.status_code == 400
    assert readd.headers["content-type"] == "application/problem+json"
    assert readd.json()["title"] == "Forgotten Email Not Subscribed"
    assert (await client.post(f"{url}/actions/delete-permanent", auth=MAILCHIMP)).status_code == 404


async def test_mailchimp_put_checks_the_hash_and_the_status(client: httpx.AsyncClient, writable_world: World) -> None:
    first, second = list(writable_world.members.values())[:2]
    mismatch = await client.put(f"{MEMBERS}/{first['id']}", auth=MAILCHIMP,
                                json={"email_address": second["email_address"], "status": "subscribed"})
    assert mismatch.status_code == 400 and mismatch.json()["errors"][0]["field"] == "email_address"
    bad = await client.put(f"{MEMBERS}/{first['id']}", auth=MAILCHIMP,
                           json={"email_address": first["email_address"], "status": "happy"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"
    patched = await client.patch(f"{MEMBERS}/{first['id']}", auth=MAILCHIMP, json={"status": "unsubscribed"})
    assert patched.status_code == 200 and first["status"] == "unsubscribed"


async def test_google_ads_mutate_refusals_and_validate_only(client: httpx.AsyncClient, writable_world: World) -> None:
    campaign = writable_world.ads_campaigns[1]
    name = f"customers/{CREDS['googleads_customer_id']}/campaigns/{campaign['id']}"
    before = campaign["status"]

    def op(resource: str, status: str) -> dict[str, object]:
        return {"operations": [{"update": {"resourceName": resource, "status": status}, "updateMask": "status"}]}

    checked = await client.post(MUTATE, headers=ADS, json={**op(name, "PAUSED"), "validateOnly": True})
    assert checked.status_code == 200 and campaign["status"] == before
    for resource, status, code in ((name, "REMOVED", {"fieldError": "INVALID_VALUE"}),
                                   (name[:-1] + "9999", "PAUSED", {"mutateError": "RESOURCE_NOT_FOUND"})):
        refused = await client.post(MUTATE, headers=ADS, json=op(resource, status))
        assert refused.status_code == 400
        [failure] = refused.json()["error"]["details"][0]["errors"]
        assert failure["errorCode"] == code
    campaign["status"] = "REMOVED"
    removed = await client.post(MUTATE, headers=ADS, json=op(name, "ENABLED"))
    assert removed.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
        "operationAccessDeniedError": "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE"}
    assert (await client.post(MUTATE, json=op(name, "ENABLED"))).status_code == 401
