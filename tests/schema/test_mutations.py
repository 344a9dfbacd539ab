"""Mutations write through to the sources in their own formats; the next read shows the change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harmonia.resolvers.ids import encode_id
from harmonia.simulators.data import World, subscriber_hash
from tests.conftest import Gateway

WRITE_METHODS = frozenset({"PATCH", "PUT", "DELETE"})

UPDATE = """mutation($id: ID!, $input: UpdateCustomerInput!, $key: String) {
  updateCustomer(id: $id, input: $input, idempotencyKey: $key) {
    customer { id email phone lifecycleStage firstName } replayed } }"""
CONSENT = """mutation($id: ID!, $status: String!) { setEmailMarketingConsent(id: $id, status: $status) {
  customer { email emailMarketingStatus } emailMarketingStatus shopifyEmailMarketingConsent replayed } }"""
CAMPAIGN_STATUS = """mutation($id: ID!, $action: String!) { updateCampaignStatus(id: $id, action: $action) {
  campaign { id name status channel } replayed } }"""
READ_CUSTOMER = "query($id: ID!) { customer(id: $id) { email phone lifecycleStage emailMarketingStatus } }"
READ_CAMPAIGN = "query($id: ID!) { campaign(id: $id) { status } }"


def writes(gateway: Gateway) -> list[dict[str, Any]]:
    """Every upstream request that could have changed something (reads sent as POST excluded: GraphQL
    queries too, only Shopify's mutations count)."""
    return [r for r in gateway.sim.log if r["method"] in WRITE_METHODS
            or (r["method"] == "POST" and r["route"].endswith("graphql.json")
                and json.loads(r["body"])["query"].lstrip().startswith("mutation"))
            or (r["method"] == "POST" and not r["route"].endswith(("batch/read", "/search", ":searchStream",
                                                                    ":runReport", ":batchRunReports",
                                                                    "graphql.json")))]


def linked_person(world: World) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A live contact with a linked Shopify customer and a subscribed Mailchimp member."""
    shop = {c["id"]: c for c in world.shopify_customers}
    for contact in world.contacts:
        props = contact["properties"]
        member = world.members.get(subscriber_hash(props["email"]))
        if (not contact["archived"] and props["shopify_customer_id"] and member and member["status"] == "subscribed"
                and shop[int(props["shopify_customer_id"])]["email_marketing_consent"]["state"] == "subscribed"):
            return contact, shop[int(props["shopify_customer_id"])], member
    raise AssertionError("the seeded world has no such person")


def customer_id(contact: dict[str, Any]) -> str:
    return encode_id("Customer", contact["id"])


async def test_update_customer_patches_the_hubspot_contact_and_the_next_query_shows_it(
    writable_gateway: Gateway, writable_world: World
) -> None:
    contact, _, _ = linked_person(writable_world)
    gid = customer_id(contact)
    before = await writable_gateway.query(READ_CUSTOMER, {"id": gid})
    assert before["data"]["customer"]["lifecycleStage"] != "evangelist"

    body = await writable_gateway.query(UPDATE, {"id": gid, "input": {"lifecycleStage": "Evangelist",
                                                                      "phone": " +14155552671 "}})

    assert "errors" not in body, body
    payload = body["data"]["updateCustomer"]
    assert payload["customer"]["lifecycleStage"] == "evangelist"
    assert payload["customer"]["phone"] == "+14155552671"
    assert payload["replayed"] is False
    # HubSpot's own write format, and its state changed as HubSpot's would.
    [patch] = [r for r in writes(writable_gateway)]
    assert (patch["method"], patch["route"]) == ("PATCH", "/crm/objects/2026-09/contacts/{contact_id}")
    assert json.loads(patch["body"]) == {"properties": {"lifecyclestage": "evangelist", "phone": "+14155552671"}}
    assert contact["properties"]["lifecyclestage"] == "evangelist"
    after = await writable_gateway.query(READ_CUSTOMER, {"id": gid})
    assert after["data"]["customer"]["lifecycleStage"] == "evangelist"
    assert after["data"]["customer"]["phone"] == "+14155552671"


async def test_an_email_another_customer_holds_is_refused_as_bad_input(
    writable_gateway: Gateway, writable_world: World
) -> None:
    first, second = [c for c in writable_world.contacts if not c["archived"]][:2]
    body = await writable_gateway.query(UPDATE, {"id": customer_id(first),
                                                 "input": {"email": second["properties"]["email"].strip()}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "already has this email" in body["errors"][0]["message"]
    assert first["properties"]["email"] != second["properties"]["email"]


@pytest.mark.parametrize(("query", "variables", "argument"), [
    (UPDATE, {"input": {"email": "ada@@example"}}, "input.email"),
    (UPDATE, {"input": {"email": "ada example.com"}}, "input.email"),
    (UPDATE, {"input": {"phone": "(415) 555-2671"}}, "input.phone"),
    (UPDATE, {"input": {"phone": "+1415"}}, "input.phone"),
    (UPDATE, {"input": {"phone": "+10000000000"}}, "input.phone"),
    (UPDATE, {"input": {"lifecycleStage": "vip"}}, "input.lifecycleStage"),
    (UPDATE, {"input": {"email": None}}, "input.email"),
    (UPDATE, {"input": {}}, "input"),
    (CONSENT, {"status": "maybe"}, "status"),
    (CONSENT, {"status": "cleaned"}, "status"),
    (CAMPAIGN_STATUS, {"action": "STOP"}, "action"),
])
async def test_invalid_input_gets_bad_user_input_and_no_upstream_call(
    writable_gateway: Gateway, writable_world: World, query: str, variables: dict[str, Any], argument: str
) -> None:
    contact, _, _ = linked_person(writable_world)
    campaign = encode_id("Campaign", "googleads", writable_world.ads_campaigns[1]["id"])
    gid = campaign if query is CAMPAIGN_STATUS else customer_id(contact)

    body = await writable_gateway.query(query, {"id": gid, **variables})

    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == argument
    assert writable_gateway.upstream_calls() == dict.fromkeys(writable_gateway.upstream_calls(), 0)


async def test_consent_change_sets_the_mailchimp_member_and_the_shopify_consent_in_step(
    writable_gateway: Gateway, writable_world: World
) -> None:
    contact, shop_customer, member = linked_person(writable_world)
    gid = customer_id(contact)

    body = await writable_gateway.query(CONSENT, {"id": gid, "status": "unsubscribed"})

    assert "errors" not in body, body
    payload = body["data"]["setEmailMarketingConsent"]
    assert payload["emailMarketingStatus"] == "unsubscribed"
    assert payload["shopifyEmailMarketingConsent"] == "unsubscribed"
    assert payload["customer"]["emailMarketingStatus"] == "unsubscribed"
    assert member["status"] == "unsubscribed"
    assert shop_customer["email_marketing_consent"]["state"] == "unsubscribed"
    assert shop_customer["email_marketing_consent"]["consent_updated_at"]
    put_member, put_customer = writes(writable_gateway)
    assert (put_member["method"], put_member["route"]) == ("PUT", "/3.0/lists/{list_id}/members/{subscriber_hash}")
    assert json.loads(put_member["body"]) == {"email_address": member["email_address"],
                                              "status_if_new": "unsubscribed", "status": "unsubscribed"}
    assert (put_customer["method"], put_customer["route"]) == ("POST", "/admin/api/{version}/graphql.json")
    mutation = json.loads(put_customer["body"])
    assert "customerEmailMarketingConsentUpdate(input: $input)" in mutation["query"]
    sent = mutation["variables"]["input"]
    assert sent["customerId"] == f"gid://shopify/Customer/{shop_customer['id']}"
    assert sent["emailMarketingConsent"]["marketingState"] == "UNSUBSCRIBED"
    assert sent["emailMarketingConsent"]["marketingOptInLevel"] == "SINGLE_OPT_IN"
    after = await writable_gateway.query(READ_CUSTOMER, {"id": gid})
    assert after["data"]["customer"]["emailMarketingStatus"] == "unsubscribed"


async def test_consent_for_someone_not_on_the_list_adds_them_with_that_status(
    writable_gateway: Gateway, writable_world: World
) -> None:
    contact = next(c for c in writable_world.contacts if not c["archived"]
                   and subscriber_hash(c["properties"]["email"]) not in writable_world.members)
    body = await writable_gateway.query(CONSENT, {"id": customer_id(contact), "status": "subscribed"})
    assert body["data"]["setEmailMarketingConsent"]["emailMarketingStatus"] == "subscribed"
    added = writable_world.members[subscriber_hash(contact["properties"]["email"])]
    assert added["status"] == "subscribed"


async def test_pausing_a_google_ads_campaign_mutates_its_status(
    writable_gateway: Gateway, writable_world: World
) -> None:
    ads = next(c for c in writable_world.ads_campaigns if c["status"] == "ENABLED")
    gid = encode_id("Campaign", "googleads", ads["id"])

    body = await writable_gateway.query(CAMPAIGN_STATUS, {"id": gid, "action": "pause"})

    assert "errors" not in body, body
    assert body["data"]["updateCampaignStatus"]["campaign"]["status"] == "PAUSED"
    assert ads["status"] == "PAUSED"
    [mutate] = writes(writable_gateway)
    assert mutate["route"] == "/{version}/customers/{customer_id}/campaigns:mutate"
    assert json.loads(mutate["body"])["operations"] == [{
        "update": {"resourceName": f"customers/1234567890/campaigns/{ads['id']}", "status": "PAUSED"},
        "updateMask": "status"}]
    after = await writable_gateway.query(READ_CAMPAIGN, {"id": gid})
    assert after["data"]["campaign"]["status"] == "PAUSED"
    back = await writable_gateway.query(CAMPAIGN_STATUS, {"id": gid, "action": "RESUME"})
    assert back["data"]["updateCampaignStatus"]["campaign"]["status"] == "ENABLED"


async def test_mailchimp_campaign_actions_follow_mailchimps_rules(
    writable_gateway: Gateway, writable_world: World
) -> None:
    scheduled, rss, regular = writable_world.campaigns[-1], writable_world.campaigns[-2], writable_world.campaigns[0]
    scheduled["status"] = "schedule"
    rss.update(type="rss", status="sending")

    async def act(campaign: dict[str, Any], action: str) -> dict[str, Any]:
        gid = encode_id("Campaign", "mailchimp", campaign["id"])
        body: dict[str, Any] = await writable_gateway.query(CAMPAIGN_STATUS, {"id": gid, "action": action})
        return body

    assert (await act(scheduled, "UNSCHEDULE"))["data"]["updateCampaignStatus"]["campaign"]["status"] == "save"
    assert scheduled["status"] == "save"
    assert (await act(rss, "PAUSE"))["data"]["updateCampaignStatus"]["campaign"]["status"] == "paused"
    assert (await act(rss, "RESUME"))["data"]["updateCampaignStatus"]["campaign"]["status"] == "sending"
    assert [r["route"] for r in writes(writable_gateway)] == ["/3.0/campaigns/{campaign_id}/actions/{action}"] * 3
    assert [r["path"].rsplit("/", 1)[1] for r in writes(writable_gateway)] == ["unschedule", "pause", "resume"]

    refused = await act(regular, "PAUSE")  # a sent regular campaign: Mailchimp would refuse, so nothing is sent
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "RSS" in refused["errors"][0]["message"]
    assert len(writes(writable_gateway)) == 3
    assert regular["status"] == "sent"


async def test_a_later_field_of_the_same_request_reads_what_an_earlier_one_wrote(
    writable_gateway: Gateway, writable_world: World
) -> None:
    contact, _, _ = linked_person(writable_world)
    body = await writable_gateway.query("""mutation($id: ID!) {
      a: updateCustomer(id: $id, input: {lifecycleStage: "lead"}) { customer { lifecycleStage } }
      b: updateCustomer(id: $id, input: {lifecycleStage: "opportunity"}) { customer { lifecycleStage } } }""",
                                        {"id": customer_id(contact)})
    assert body["data"]["a"]["customer"]["lifecycleStage"] == "lead"
    assert body["data"]["b"]["customer"]["lifecycleStage"] == "opportunity"


async def test_every_write_tells_the_shared_cache_what_to_evict(
    writable_gateway: Gateway, writable_world: World
) -> None:
    evicted: list[tuple[str, str, str]] = []

    evict_everywhere = writable_gateway.app.state.writes.shared_invalidation

    async def record(source: str, entity: str, key: str) -> None:
        evicted.append((source, entity, key))
        await evict_everywhere(source, entity, key)  # still evict: later reads must see the change

    writable_gateway.app.state.writes.shared_invalidation = record
    contact, shop_customer, member = linked_person(writable_world)
    ads = writable_world.ads_campaigns[1]
    await writable_gateway.query(UPDATE, {"id": customer_id(contact), "input": {"firstName": "Ada"}})
    await writable_gateway.query(CONSENT, {"id": customer_id(contact), "status": "unsubscribed"})
    await writable_gateway.query(CAMPAIGN_STATUS, {"id": encode_id("Campaign", "googleads", ads["id"]),
                                                   "action": "PAUSE"})
    assert evicted == [("hubspot", "contact", contact["id"]), ("mailchimp", "member", member["email_address"]),
                       ("shopify", "customer", str(shop_customer["id"])), ("googleads", "campaign", ads["id"])]
