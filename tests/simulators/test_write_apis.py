"""The simulators' write routes answer as the real APIs do: formats, refusals, and state that changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harmonia.settings import DEMO_CREDENTIALS as CREDS
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World

HUBSPOT = {"Authorization": f"Bearer {CREDS['hubspot_token']}"}
SHOPIFY = {"X-Shopify-Access-Token": CREDS["shopify_token"]}
MAILCHIMP = ("anystring", CREDS["mailchimp_api_key"])
ADS = {"Authorization": f"Bearer {CREDS['googleads_token']}", "developer-token": CREDS["googleads_developer_token"]}
CONTACTS = "/hubspot/crm/v3/objects/contacts"
GRAPHQL = "/shopify/admin/api/2026-10/graphql.json"
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


async def shopify(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(GRAPHQL, headers=SHOPIFY, json={"query": query, "variables": variables})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


UPDATE = """mutation($input: CustomerInput!) { customerUpdate(input: $input) {
              customer { firstName note tags } userErrors { field message } } }"""
CONSENT = """mutation($input: CustomerEmailMarketingConsentUpdateInput!) {
               customerEmailMarketingConsentUpdate(input: $input) {
                 customer { emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt } }
                 userErrors { field message code } } }"""
ERASE = """mutation($id: ID!) { customerRequestDataErasure(customerId: $id) {
             customerId userErrors { field message code } } }"""


def shop_gid(customer: dict[str, Any]) -> str:
    return f"gid://shopify/Customer/{customer['id']}"


async def test_shopify_customer_update_and_the_refusals_shopify_answers(
    client: httpx.AsyncClient, writable_world: World
) -> None:
    customer, other = writable_world.shopify_customers[:2]
    ok = await shopify(client, UPDATE, {"input": {"id": shop_gid(customer), "firstName": "  ", "note": "VIP",
                                                  "tags": [" b", "a", "b"]}})
    taken = await shopify(client, UPDATE, {"input": {"id": shop_gid(customer), "email": other["email"].strip()}})
    bad = await shopify(client, UPDATE, {"input": {"id": shop_gid(customer), "email": "not-an-email"}})
    consent = await shopify(client, UPDATE, {"input": {"id": shop_gid(customer), "emailMarketingConsent": {
        "marketingState": "SUBSCRIBED"}}})
    unknown = await shopify(client, UPDATE, {"input": {"id": "gid://shopify/Customer/1", "note": "x"}})

    assert ok["data"]["customerUpdate"] == {"customer": {"firstName": None, "note": "VIP", "tags": ["a", "b"]},
                                            "userErrors": []}
    assert taken["data"]["customerUpdate"] == {"customer": None, "userErrors": [
        {"field": ["email"], "message": "Email has already been taken"}]}
    assert bad["data"]["customerUpdate"]["userErrors"] == [{"field": ["email"], "message": "Email is invalid"}]
    assert consent["data"]["customerUpdate"]["userErrors"][0]["field"] == ["emailMarketingConsent"]
    assert unknown["data"]["customerUpdate"]["userErrors"] == [{"field": ["id"], "message": "Customer does not exist"}]


async def test_shopify_consent_update_and_its_refusals(client: httpx.AsyncClient, writable_world: World) -> None:
    customer = next(c for c in writable_world.shopify_customers if c["email"])
    when = "2026-11-25T10:00:00Z"
    ok = await shopify(client, CONSENT, {"input": {"customerId": shop_gid(customer), "emailMarketingConsent": {
        "marketingState": "UNSUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN", "consentUpdatedAt": when}}})
    pending = await shopify(client, CONSENT, {"input": {"customerId": shop_gid(customer), "emailMarketingConsent": {
        "marketingState": "PENDING", "marketingOptInLevel": "SINGLE_OPT_IN"}}})
    not_settable = await shopify(client, CONSENT, {"input": {
        "customerId": shop_gid(customer), "emailMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"}}})
    unknown = await shopify(client, CONSENT, {"input": {"customerId": "gid://shopify/Customer/1",
                                                        "emailMarketingConsent": {"marketingState": "SUBSCRIBED"}}})

    assert ok["data"]["customerEmailMarketingConsentUpdate"] == {"customer": {"emailMarketingConsent": {
        "marketingState": "UNSUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN", "consentUpdatedAt": when}},
        "userErrors": []}
    assert customer["email_marketing_consent"]["state"] == "unsubscribed"
    assert pending["data"]["customerEmailMarketingConsentUpdate"]["userErrors"][0]["message"] == (
        "Marketing opt in level must be confirmed opt-in for pending consent state")
    assert not_settable["data"] == {"customerEmailMarketingConsentUpdate": None}
    assert not_settable["errors"][0]["extensions"]["code"] == "INVALID"
    assert unknown["data"]["customerEmailMarketingConsentUpdate"]["userErrors"] == [
        {"field": ["input", "customerId"], "message": "Customer not found", "code": "INVALID"}]


async def test_shopify_erasure_is_enqueued_then_redacts_the_person_and_keeps_the_sales(
    writable_world: World
) -> None:
    state = SimulatorState(SimulatorConfig(seed=7, rate_limits=False, shopify_erasure_delay_s=0.3),
                           world=writable_world)
    transport = httpx.ASGITransport(app=create_simulator_app(state=state))
    buyer = next(c for c in writable_world.shopify_customers if writable_world.customer_orders(c["id"]))
    totals = [o["total_price"] for o in writable_world.customer_orders(buyer["id"])]
    read = """query($id: ID!) { customer(id: $id) { firstName defaultEmailAddress { emailAddress }
                orders(first: 10) { nodes { email totalPriceSet { shopMoney { amount } } } } } }"""
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators") as client:
        requested = await shopify(client, ERASE, {"id": shop_gid(buyer)})
        just_after = await shopify(client, read, {"id": shop_gid(buyer)})
        await asyncio.sleep(0.4)
        later = await shopify(client, read, {"id": shop_gid(buyer)})

    assert requested["data"]["customerRequestDataErasure"] == {"customerId": shop_gid(buyer), "userErrors": []}
    assert just_after["data"]["customer"]["firstName"] == buyer["first_name"] or buyer["first_name"] is None
    assert just_after["data"]["customer"]["defaultEmailAddress"] is not None  # unchanged until Shopify gets to it
    erased = later["data"]["customer"]
    assert erased["firstName"] is None and erased["defaultEmailAddress"] is None
    assert all(o["email"] is None for o in erased["orders"]["nodes"])
    assert len(erased["orders"]["nodes"]) == min(10, len(totals))  # what was sold stays


async def test_shopify_refuses_to_delete_a_customer_with_orders(
    client: httpx.AsyncClient, writable_world: World
) -> None:
    with_orders = next(c for c in writable_world.shopify_customers if writable_world.customer_orders(c["id"]))
    without = next(c for c in writable_world.shopify_customers if not writable_world.customer_orders(c["id"]))
    delete = ("mutation($id: ID!) { customerDelete(input: {id: $id}) { deletedCustomerId "
              "userErrors { field message } } }")
    refused = await shopify(client, delete, {"id": shop_gid(with_orders)})
    deleted = await shopify(client, delete, {"id": shop_gid(without)})

    assert refused["data"]["customerDelete"] == {"deletedCustomerId": None, "userErrors": [
        {"field": ["id"], "message": "Customer can\u2019t be deleted because they have associated orders"}]}
    assert deleted["data"]["customerDelete"] == {"deletedCustomerId": shop_gid(without), "userErrors": []}
    assert without not in writable_world.shopify_customers


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
