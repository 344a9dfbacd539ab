"""The Mailchimp simulator speaks Mailchimp 3.0: Basic auth, count/offset, problem+json, 10 connections."""

from __future__ import annotations

import asyncio

import httpx

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import LIST_ID, World, subscriber_hash

AUTH = ("anystring", DEMO_CREDENTIALS["mailchimp_api_key"])
DESCRIBED_BY = '<https://us6.api.mailchimp.com/schema/3.0/ProblemDetailDocument.json>; rel="describedBy"'


def assert_problem(response: httpx.Response, status: int, title: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["link"] == DESCRIBED_BY
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert body["title"] == title
    assert body["status"] == status
    assert response.headers["x-request-id"] == body["instance"]


async def test_campaign_list_defaults_to_ten_with_total_and_links(sim_client: httpx.AsyncClient,
                                                                  world: World) -> None:
    response = await sim_client.get("/mailchimp/3.0/campaigns", auth=AUTH)
    body = response.json()
    assert response.status_code == 200
    assert len(body["campaigns"]) == 10
    assert body["total_items"] == len(world.campaigns)
    assert {link["rel"] for link in body["_links"]} >= {"self", "parent"}
    assert body["campaigns"][0]["settings"]["title"] == world.campaigns[0]["settings"]["title"]


async def test_offset_past_the_end_is_an_empty_page_with_the_same_total(sim_client: httpx.AsyncClient,
                                                                         world: World) -> None:
    body = (await sim_client.get("/mailchimp/3.0/campaigns", params={"count": 5, "offset": 1000},
                                 auth=AUTH)).json()
    assert body["campaigns"] == []
    assert body["total_items"] == len(world.campaigns)


async def test_count_above_one_thousand_is_rejected_as_invalid_resource(
        sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.get("/mailchimp/3.0/campaigns", params={"count": 1001}, auth=AUTH)
    assert_problem(response, 400, "Invalid Resource")
    assert response.json()["errors"][0]["field"] == "count"


async def test_fields_in_dot_notation_trim_each_campaign(sim_client: httpx.AsyncClient) -> None:
    params: dict[str, str | int] = {"count": 3, "fields": "campaigns.id,campaigns.settings.title,total_items"}
    body = (await sim_client.get("/mailchimp/3.0/campaigns", params=params, auth=AUTH)).json()
    assert set(body) == {"campaigns", "total_items"}
    assert all(set(c) == {"id", "settings"} and set(c["settings"]) == {"title"} for c in body["campaigns"])


async def test_exclude_fields_drops_only_what_is_named(sim_client: httpx.AsyncClient) -> None:
    params: dict[str, str | int] = {"count": 2,
                                    "exclude_fields": "campaigns._links,campaigns.recipients,_links"}
    body = (await sim_client.get("/mailchimp/3.0/campaigns", params=params, auth=AUTH)).json()
    assert "_links" not in body
    assert all("recipients" not in c and "_links" not in c and "settings" in c for c in body["campaigns"])


async def test_status_filter_and_descending_send_time(sim_client: httpx.AsyncClient, world: World) -> None:
    params: dict[str, str | int] = {"count": 1000, "status": "sent", "sort_field": "send_time",
                                    "sort_dir": "DESC"}
    body = (await sim_client.get("/mailchimp/3.0/campaigns", params=params, auth=AUTH)).json()
    sent = [c for c in world.campaigns if c["status"] == "sent"]
    assert body["total_items"] == len(sent)
    times = [c["send_time"] for c in body["campaigns"]]
    assert times == sorted(times, reverse=True)
    assert {c["status"] for c in body["campaigns"]} == {"sent"}


async def test_report_exists_for_sent_campaigns_and_404s_for_unsent(sim_client: httpx.AsyncClient,
                                                                    world: World) -> None:
    sent = next(c for c in world.campaigns if c["status"] == "sent")
    unsent = next(c for c in world.campaigns if c["status"] != "sent")
    report = (await sim_client.get(f"/mailchimp/3.0/reports/{sent['id']}", auth=AUTH)).json()
    assert report["id"] == sent["id"]
    assert report["opens"]["unique_opens"] > 0
    assert_problem(await sim_client.get(f"/mailchimp/3.0/reports/{unsent['id']}", auth=AUTH),
                   404, "Resource Not Found")


async def test_report_list_pages_with_total_items(sim_client: httpx.AsyncClient, world: World) -> None:
    body = (await sim_client.get("/mailchimp/3.0/reports", params={"count": 5, "offset": 20},
                                 auth=AUTH)).json()
    assert body["total_items"] == len(world.reports)
    assert len(body["reports"]) == len(world.reports) - 20


async def test_member_is_addressed_by_md5_of_the_lowercased_email(sim_client: httpx.AsyncClient,
                                                                  world: World) -> None:
    member = next(iter(world.members.values()))
    shouted = f"  {member['email_address'].upper()} "
    response = await sim_client.get(f"/mailchimp/3.0/lists/{LIST_ID}/members/{subscriber_hash(shouted)}",
                                    auth=AUTH)
    assert response.status_code == 200
    assert response.json()["email_address"] == member["email_address"]


async def test_absent_member_is_a_problem_document(sim_client: httpx.AsyncClient) -> None:
    path = f"/mailchimp/3.0/lists/{LIST_ID}/members/{subscriber_hash('nobody@nowhere.example')}"
    assert_problem(await sim_client.get(path, auth=AUTH), 404, "Resource Not Found")


async def test_member_list_filters_by_status(sim_client: httpx.AsyncClient, world: World) -> None:
    params: dict[str, str | int] = {"count": 1000, "status": "cleaned"}
    body = (await sim_client.get(f"/mailchimp/3.0/lists/{LIST_ID}/members", params=params, auth=AUTH)).json()
    assert body["list_id"] == LIST_ID
    assert body["total_items"] == sum(1 for m in world.members.values() if m["status"] == "cleaned")
    assert {m["status"] for m in body["members"]} == {"cleaned"}


async def test_unknown_list_is_404(sim_client: httpx.AsyncClient) -> None:
    assert_problem(await sim_client.get("/mailchimp/3.0/lists/nosuchlist/members", auth=AUTH),
                   404, "Resource Not Found")


async def test_wrong_or_missing_api_key_is_401(sim_client: httpx.AsyncClient) -> None:
    wrong = await sim_client.get("/mailchimp/3.0/campaigns", auth=("anystring", "bad-us6"))
    assert_problem(wrong, 401, "API Key Invalid")
    assert_problem(await sim_client.get("/mailchimp/3.0/campaigns"), 401, "API Key Missing")


async def test_the_api_key_is_also_accepted_as_a_bearer_token(sim_client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {DEMO_CREDENTIALS['mailchimp_api_key']}"}
    assert (await sim_client.get("/mailchimp/3.0/campaigns", headers=headers)).status_code == 200


async def test_the_eleventh_simultaneous_request_gets_429(sim_client: httpx.AsyncClient,
                                                          sim_state: SimulatorState) -> None:
    sim_state.config.latency_ms = 50  # keep every request in flight while the others arrive
    responses = await asyncio.gather(*(sim_client.get("/mailchimp/3.0/campaigns", auth=AUTH)
                                       for _ in range(11)))
    throttled = [r for r in responses if r.status_code == 429]
    assert len(throttled) == 1
    assert_problem(throttled[0], 429, "Too Many Requests")
    assert not any(name.lower().startswith("x-ratelimit") for name in throttled[0].headers)
    # The connections are given back once the requests finish.
    sim_state.config.latency_ms = 0
    assert (await sim_client.get("/mailchimp/3.0/campaigns", auth=AUTH)).status_code == 200


async def test_no_connection_limit_when_rate_limits_are_off(sim_client: httpx.AsyncClient,
                                                            sim_state: SimulatorState) -> None:
    sim_state.config.latency_ms = 30
    sim_state.config.rate_limits = False
    responses = await asyncio.gather(*(sim_client.get("/mailchimp/3.0/campaigns", auth=AUTH)
                                       for _ in range(15)))
    assert {r.status_code for r in responses} == {200}


async def test_injected_faults_render_as_problem_json(sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "mailchimp", "status": 503, "rate": 1.0})
    assert_problem(await sim_client.get("/mailchimp/3.0/campaigns", auth=AUTH), 503, "Service Unavailable")
