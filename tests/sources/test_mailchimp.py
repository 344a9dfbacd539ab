"""MailchimpAccount against the simulator: paging, reports, members by email hash, the 10-connection cap."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harmonia.errors import UpstreamAuthFailed
from harmonia.settings import MailchimpSettings
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World, subscriber_hash
from harmonia.sources.mailchimp import MailchimpAccount

BASE = "http://simulators/mailchimp"


@pytest.fixture
async def account(transport: httpx.ASGITransport) -> AsyncIterator[MailchimpAccount]:
    account = MailchimpAccount.from_settings(MailchimpSettings(base_url=BASE), transport=transport)
    yield account
    await account.aclose()


async def logged_paths(sim_client: httpx.AsyncClient) -> list[str]:
    return [r["path"] for r in (await sim_client.get("/__requests", params={"source": "mailchimp"})).json()]


async def test_paging_by_count_and_offset_returns_every_campaign_once(account: MailchimpAccount,
                                                                      world: World) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = await account.list_campaigns(count=6, offset=offset)
        assert page.total == len(world.campaigns)
        seen.extend(c.id for c in page.items)
        if page.next_cursor is None:
            break
        offset = int(page.next_cursor)
    assert len(seen) == len(set(seen)) == len(world.campaigns)
    assert set(seen) == {c["id"] for c in world.campaigns}


async def test_campaigns_come_oldest_first_with_normalized_times(account: MailchimpAccount) -> None:
    campaigns = await account.all_campaigns()
    created = [c.create_time for c in campaigns]
    assert created == sorted(c for c in created if c is not None)
    assert all(t is not None and t.endswith("Z") for t in created)


async def test_unsent_campaign_has_no_send_time_and_its_title_is_the_settings_title(
        account: MailchimpAccount, world: World) -> None:
    wire = next(c for c in world.campaigns if c["status"] != "sent")
    campaign = await account.get_campaign(wire["id"])
    assert campaign is not None
    assert campaign.send_time is None
    assert campaign.title == wire["settings"]["title"]
    assert campaign.list_id == wire["recipients"]["list_id"]


async def test_unknown_campaign_is_none(account: MailchimpAccount) -> None:
    assert await account.get_campaign("doesnotexist") is None


async def test_reports_for_sent_campaigns_only_each_fetched_once(account: MailchimpAccount, world: World,
                                                                 sim_client: httpx.AsyncClient) -> None:
    ids = [c["id"] for c in world.campaigns]
    reports = await account.get_reports([*ids, *ids[:5]])
    assert set(reports) == set(world.reports)
    first = ids[0]
    wire = world.reports[first]
    assert reports[first].unique_opens == wire["opens"]["unique_opens"]
    assert reports[first].click_rate == wire["clicks"]["click_rate"]
    send_time = reports[first].send_time
    assert send_time is not None and send_time.endswith("Z")
    report_paths = [p for p in await logged_paths(sim_client) if p.startswith("/3.0/reports/")]
    assert len(report_paths) == len(set(report_paths)) == len(ids)


async def test_members_are_found_by_hash_of_the_trimmed_lowercased_email(
        account: MailchimpAccount, world: World, sim_client: httpx.AsyncClient) -> None:
    known = [m["email_address"] for m in list(world.members.values())[:3]]
    messy = [f"  {known[0].upper()} ", known[1].capitalize(), known[2], known[0], "absent@nowhere.example"]
    members = await account.get_members(messy)
    assert set(members) == set(known)  # keys normalized; the absent address simply missing
    member = members[known[0]]
    wire = world.members[subscriber_hash(known[0])]
    assert member.status == wire["status"]
    assert member.first_name == wire["merge_fields"]["FNAME"]
    member_paths = [p for p in await logged_paths(sim_client) if "/members/" in p]
    assert len(member_paths) == len(set(member_paths)) == 4  # three known + one absent, none twice


async def test_thirty_lookups_stay_under_ten_connections(transport: httpx.ASGITransport, world: World,
                                                         sim_state: SimulatorState) -> None:
    sim_state.config.latency_ms = 20  # requests overlap, as they do over a network
    account = MailchimpAccount.from_settings(MailchimpSettings(base_url=BASE), transport=transport)
    statuses: list[int] = []

    async def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    account.http.client.event_hooks["response"].append(record)
    emails = [m["email_address"] for m in list(world.members.values())[:25]]
    emails += [f"stranger{i}@nowhere.example" for i in range(5)]
    try:
        members = await account.get_members(emails)
    finally:
        await account.aclose()
    assert len(statuses) == 30
    assert 429 not in statuses
    assert len(members) == 25
    # The pacer used the ten connections Mailchimp allows, and never an eleventh.
    assert sim_state.throttles["mailchimp"].peak == 10
    assert sim_state.throttles["mailchimp"].rejected == 0


async def test_a_429_is_retried_until_mailchimp_answers(account: MailchimpAccount, world: World,
                                                        sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "mailchimp", "status": 429, "rate": 1.0,
                                             "seconds": 0.2})
    campaign = await account.get_campaign(world.campaigns[0]["id"])
    assert campaign is not None and campaign.id == world.campaigns[0]["id"]
    assert len(await logged_paths(sim_client)) == 2  # the refused attempt and the retry


async def test_a_wrong_api_key_is_an_upstream_auth_failure(transport: httpx.ASGITransport) -> None:
    account = MailchimpAccount.from_settings(MailchimpSettings(base_url=BASE, api_key="wrong-us6"),
                                             transport=transport)
    try:
        with pytest.raises(UpstreamAuthFailed) as raised:
            await account.list_campaigns(count=10)
    finally:
        await account.aclose()
    assert raised.value.source == "mailchimp"
    assert "wrong-us6" not in raised.value.message
