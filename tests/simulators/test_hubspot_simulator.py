"""The HubSpot simulator speaks CRM v3's wire format: paging, 207 batches, search, limits, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.hubspot import throttle_for

AUTH = {"Authorization": f"Bearer {DEMO_CREDENTIALS['hubspot_token']}"}
CONTACTS = "/hubspot/crm/v3/objects/contacts"
RATE_HEADERS = ("X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining",
                "X-HubSpot-RateLimit-Interval-Milliseconds", "X-HubSpot-RateLimit-Daily",
                "X-HubSpot-RateLimit-Daily-Remaining")


@pytest.fixture
def many_searches(sim_state: SimulatorState) -> None:
    """Lift the ~5/s search limit for tests that search more often than that on purpose."""
    throttle_for(sim_state).search_per_second = 1000


def live_ids(world: World) -> list[str]:
    return [c["id"] for c in world.contacts if not c["archived"]]


def email_filter(value: str) -> dict[str, Any]:
    return {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": value}]}]}


async def search(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{CONTACTS}/search", json=body, headers=AUTH)


async def test_list_pages_through_every_live_contact_and_the_last_page_has_no_paging(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = await sim_client.get(CONTACTS, params=params, headers=AUTH)
        assert response.status_code == 200
        body = response.json()
        seen += [obj["id"] for obj in body["results"]]
        if "paging" not in body:
            break
        following = body["paging"]["next"]
        assert f"after={following['after']}" in following["link"]
        params["after"] = following["after"]
    assert seen == live_ids(world)


async def test_list_defaults_to_ten_contacts_with_the_default_property_set(
    sim_client: httpx.AsyncClient,
) -> None:
    body = (await sim_client.get(CONTACTS, headers=AUTH)).json()
    assert len(body["results"]) == 10
    first = body["results"][0]
    assert set(first) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert set(first["properties"]) <= {"createdate", "email", "firstname", "hs_object_id",
                                        "lastmodifieddate", "lastname"}
    assert "phone" not in first["properties"]


async def test_unset_properties_are_left_out_even_when_requested(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    body = (await sim_client.get(CONTACTS, params={"limit": 100, "properties": "phone,email"},
                                 headers=AUTH)).json()
    phoneless = {c["id"] for c in world.contacts if c["properties"]["phone"] is None}
    for obj in body["results"]:
        assert ("phone" in obj["properties"]) == (obj["id"] not in phoneless)
        assert obj["properties"]["hs_object_id"] == obj["id"]


async def test_list_rejects_more_than_100_per_page(sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.get(CONTACTS, params={"limit": 101}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


async def test_archived_true_lists_only_archived_contacts(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    body = (await sim_client.get(CONTACTS, params={"limit": 100, "archived": "true"}, headers=AUTH)).json()
    archived = [c["id"] for c in world.contacts if c["archived"]]
    assert archived and [obj["id"] for obj in body["results"]] == archived
    assert all(obj["archived"] and "archivedAt" in obj for obj in body["results"])


async def test_wrong_or_missing_token_gets_hubspots_401_body(sim_client: httpx.AsyncClient) -> None:
    for headers in ({"Authorization": "Bearer not-the-token"}, {}):
        response = await sim_client.get(CONTACTS, headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error"
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found")
        assert len(body["correlationId"]) == 36


async def test_get_by_email_ignores_the_case_and_spaces_the_contact_was_stored_with(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    messy = next(c for c in world.contacts if not c["archived"] and c["properties"]["email"].startswith("  "))
    clean = messy["properties"]["email"].strip().upper()
    response = await sim_client.get(f"{CONTACTS}/{clean}", params={"idProperty": "email"}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["id"] == messy["id"]


async def test_get_unknown_contact_is_a_404_object_not_found(sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.get(f"{CONTACTS}/999999999", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


async def test_batch_read_with_missing_ids_answers_207_naming_them(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    wanted = live_ids(world)[:3]
    body = {"inputs": [{"id": i} for i in [*wanted, "1", "2"]], "properties": ["email"],
            "propertiesWithHistory": []}
    response = await sim_client.post(f"{CONTACTS}/batch/read", json=body, headers=AUTH)
    assert response.status_code == 207
    payload = response.json()
    assert payload["status"] == "COMPLETE"
    assert [obj["id"] for obj in payload["results"]] == wanted
    assert payload["numErrors"] == 1
    error = payload["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"] == {"ids": ["1", "2"]}
    assert {"startedAt", "completedAt"} <= set(payload)


async def test_batch_read_with_every_id_found_answers_200_complete(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    wanted = live_ids(world)[:100]
    response = await sim_client.post(f"{CONTACTS}/batch/read", json={"inputs": [{"id": i} for i in wanted]},
                                     headers=AUTH)
    assert response.status_code == 200
    payload = response.json()
    assert payload["status"] == "COMPLETE" and "errors" not in payload
    assert len(payload["results"]) == 100


async def test_batch_read_over_100_inputs_is_a_400_validation_error(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    inputs = [{"id": i} for i in live_ids(world)[:101]]
    response = await sim_client.post(f"{CONTACTS}/batch/read", json={"inputs": inputs}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


async def test_batch_read_with_history_is_capped_at_50_inputs(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    inputs = [{"id": i} for i in live_ids(world)[:51]]
    body = {"inputs": inputs, "propertiesWithHistory": ["email"]}
    response = await sim_client.post(f"{CONTACTS}/batch/read", json=body, headers=AUTH)
    assert response.status_code == 400
    assert "property histories is 50" in response.json()["message"]


async def test_batch_read_finds_archived_contacts_only_when_asked(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    archived = next(c["id"] for c in world.contacts if c["archived"])
    body = {"inputs": [{"id": archived}]}
    default = await sim_client.post(f"{CONTACTS}/batch/read", json=body, headers=AUTH)
    asked = await sim_client.post(f"{CONTACTS}/batch/read", params={"archived": "true"}, json=body,
                                  headers=AUTH)
    assert default.status_code == 207 and default.json()["results"] == []
    assert asked.status_code == 200 and asked.json()["results"][0]["id"] == archived


async def test_batch_read_by_email_matches_stored_emails_case_insensitively(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    shouty = next(c for c in world.contacts
                  if not c["archived"] and c["properties"]["email"] == c["properties"]["email"].upper())
    body = {"inputs": [{"id": shouty["properties"]["email"].lower()}], "idProperty": "email"}
    response = await sim_client.post(f"{CONTACTS}/batch/read", json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == shouty["id"]


async def test_every_response_carries_the_rate_limit_headers(sim_client: httpx.AsyncClient) -> None:
    first = await sim_client.get(CONTACTS, headers=AUTH)
    second = await sim_client.get(f"{CONTACTS}/999999999", headers=AUTH)
    for response in (first, second):
        assert all(name in response.headers for name in RATE_HEADERS)
    assert first.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert first.headers["X-HubSpot-RateLimit-Daily"] == "250000"
    assert int(second.headers["X-HubSpot-RateLimit-Remaining"]) == \
        int(first.headers["X-HubSpot-RateLimit-Remaining"]) - 1


async def test_over_the_ten_second_window_answers_429_without_retry_after(
    sim_client: httpx.AsyncClient, sim_state: SimulatorState
) -> None:
    throttle_for(sim_state).per_window = 3
    statuses = [(await sim_client.get(CONTACTS, headers=AUTH)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    refused = statuses[-1]
    body = refused.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert "Retry-After" not in refused.headers
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"


async def test_the_window_opens_again_after_its_interval(
    sim_client: httpx.AsyncClient, sim_state: SimulatorState
) -> None:
    throttle = throttle_for(sim_state)
    throttle.per_window, throttle.window_seconds = 1, 0.2
    assert (await sim_client.get(CONTACTS, headers=AUTH)).status_code == 200
    assert (await sim_client.get(CONTACTS, headers=AUTH)).status_code == 429
    await asyncio.sleep(0.25)
    assert (await sim_client.get(CONTACTS, headers=AUTH)).status_code == 200


async def test_the_daily_counter_runs_out_with_its_own_policy(
    sim_client: httpx.AsyncClient, sim_state: SimulatorState
) -> None:
    throttle_for(sim_state).daily = 2
    responses = [await sim_client.get(CONTACTS, headers=AUTH) for _ in range(3)]
    assert responses[1].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert responses[2].status_code == 429
    assert responses[2].json()["policyName"] == "DAILY"


async def test_search_has_its_own_per_second_limit(
    sim_client: httpx.AsyncClient, sim_state: SimulatorState
) -> None:
    throttle_for(sim_state).search_per_second = 2
    statuses = [(await search(sim_client, {})).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # Plain reads are not held back by the search limit.
    assert (await sim_client.get(CONTACTS, headers=AUTH)).status_code == 200


async def test_without_rate_limits_nothing_is_refused_or_announced(
    sim_client: httpx.AsyncClient, sim_state: SimulatorState
) -> None:
    sim_state.config.rate_limits = False
    throttle_for(sim_state).per_window = 1
    responses = [await sim_client.get(CONTACTS, headers=AUTH) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "X-HubSpot-RateLimit-Max" not in responses[-1].headers


async def test_search_by_email_matches_whatever_case_was_stored(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    shouty = next(c for c in world.contacts
                  if not c["archived"] and c["properties"]["email"] == c["properties"]["email"].upper())
    body = (await search(sim_client, email_filter(shouty["properties"]["email"].lower()))).json()
    assert body["total"] == 1
    assert [obj["id"] for obj in body["results"]] == [shouty["id"]]
    assert "paging" not in body


@pytest.mark.usefixtures("many_searches")
async def test_search_pages_by_offset_and_reports_the_total(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    stage = {"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}
    expected = [c["id"] for c in world.contacts
                if not c["archived"] and c["properties"]["lifecyclestage"] == "customer"]
    seen: list[str] = []
    body: dict[str, Any] = {"filterGroups": [{"filters": [stage]}], "limit": 200}
    while True:
        page = (await search(sim_client, body)).json()
        assert page["total"] == len(expected)
        seen += [obj["id"] for obj in page["results"]]
        if "paging" not in page:
            break
        assert page["paging"]["next"]["after"] == str(len(seen))
        body["after"] = page["paging"]["next"]["after"]
    assert seen == expected


@pytest.mark.usefixtures("many_searches")
async def test_search_operators_partition_and_compare_dates_across_encodings(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    async def total(*filters: dict[str, Any]) -> int:
        response = await search(sim_client, {"filterGroups": [{"filters": list(filters)}]})
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    live = len(live_ids(world))
    has = await total({"propertyName": "phone", "operator": "HAS_PROPERTY"})
    hasnt = await total({"propertyName": "phone", "operator": "NOT_HAS_PROPERTY"})
    assert has + hasnt == live and hasnt > 0
    stages = ["customer", "lead"]
    inside = await total({"propertyName": "lifecyclestage", "operator": "IN", "values": stages})
    outside = await total({"propertyName": "lifecyclestage", "operator": "NOT_IN", "values": stages})
    assert inside + outside == live and inside > 0
    # 2024-01-01 as epoch millis splits ISO and epoch-ms createdates alike.
    cut = "1704067200000"
    before = await total({"propertyName": "createdate", "operator": "LT", "value": cut})
    after = await total({"propertyName": "createdate", "operator": "GTE", "value": "2024-01-01T00:00:00Z"})
    assert before + after == live and before > 0 and after > 0
    token = await total({"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@example.org"})
    assert 0 < token < live


async def test_search_sorts_descending_on_request(sim_client: httpx.AsyncClient) -> None:
    body = {"sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], "limit": 50,
            "properties": ["lastmodifieddate"]}
    results = (await search(sim_client, body)).json()["results"]
    stamps = [obj["properties"]["lastmodifieddate"] for obj in results]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.usefixtures("many_searches")
async def test_search_enforces_five_groups_of_six_filters_and_200_per_page(
    sim_client: httpx.AsyncClient,
) -> None:
    flt = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    too_many_groups = {"filterGroups": [{"filters": [flt]}] * 6}
    too_many_filters = {"filterGroups": [{"filters": [flt] * 7}]}
    unknown_operator = {"filterGroups": [{"filters": [{"propertyName": "x", "operator": "LIKE"}]}]}
    for body in (too_many_groups, too_many_filters, {"limit": 201}, {"after": "10000"}, unknown_operator):
        response = await search(sim_client, body)
        assert response.status_code == 400, body
        assert response.json()["category"] == "VALIDATION_ERROR"
    for fine in ({"filterGroups": [{"filters": [flt] * 6}]}, {"filterGroups": [{"filters": [flt] * 3}] * 5}):
        assert (await search(sim_client, fine)).status_code == 200


async def test_injected_faults_use_hubspots_error_bodies(sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "hubspot", "status": 503, "rate": 1.0, "seconds": 30})
    unavailable = await sim_client.get(CONTACTS, headers=AUTH)
    await sim_client.post("/__faults", json={"source": "hubspot", "status": 429, "rate": 1.0, "seconds": 30})
    limited = await sim_client.get(CONTACTS, headers=AUTH)
    assert unavailable.status_code == 503
    assert unavailable.json()["status"] == "error" and "correlationId" in unavailable.json()
    assert limited.status_code == 429 and limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
