"""The Shopify simulator speaks Admin REST's wire format: auth, Link cursors, bucket, errors."""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World
from harmonia.simulators.shopify import BUCKET_KEY, LeakyBucket

API = "/shopify/admin/api/2024-04"
TOKEN = {"X-Shopify-Access-Token": DEMO_CREDENTIALS["shopify_token"]}
LINK = re.compile(r'<([^<]+)>; rel="([^"]+)"')


def _status(order: dict[str, object]) -> str:
    return "cancelled" if order["cancelled_at"] else "closed" if order["closed_at"] else "open"


def _links(response: httpx.Response) -> dict[str, str]:
    """rel -> URL, parsed the way Shopify's own client does."""
    found = (LINK.match(part) for part in response.headers["Link"].split(", "))
    return {match.group(2): match.group(1) for match in found if match}


async def test_wrong_token_gets_shopifys_401_body(sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.get(f"{API}/orders.json", headers={"X-Shopify-Access-Token": "shpat_wrong"})
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    missing = await sim_client.get(f"{API}/customers.json")
    assert missing.status_code == 401


async def test_link_header_has_exact_shape_and_next_then_previous(sim_client: httpx.AsyncClient) -> None:
    first = await sim_client.get(f"{API}/orders.json", params={"status": "any", "limit": 50}, headers=TOKEN)
    assert first.status_code == 200
    assert re.fullmatch(r'<http://simulators/shopify/admin/api/2024-04/orders\.json\?limit=50&page_info='
                        r'[A-Za-z0-9_-]+>; rel="next"', first.headers["Link"])
    second = await sim_client.get(_links(first)["next"], headers=TOKEN)
    assert re.fullmatch(r'<[^<]+page_info=[A-Za-z0-9_-]+>; rel="next", <[^<]+page_info=[A-Za-z0-9_-]+>; '
                        r'rel="previous"', second.headers["Link"])
    back = await sim_client.get(_links(second)["previous"], headers=TOKEN)
    assert [o["id"] for o in back.json()["orders"]] == [o["id"] for o in first.json()["orders"]]
    assert not set(o["id"] for o in first.json()["orders"]) & set(o["id"] for o in second.json()["orders"])


async def test_page_info_is_reusable_and_carries_the_first_requests_filters(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    first = await sim_client.get(f"{API}/orders.json", params={"status": "cancelled", "limit": 10},
                                 headers=TOKEN)
    next_url = _links(first)["next"]
    again = [await sim_client.get(next_url, headers=TOKEN) for _ in range(2)]
    assert again[0].json() == again[1].json()
    assert all(_status(o) == "cancelled" for o in again[0].json()["orders"])
    cancelled = [o["id"] for o in world.orders if _status(o) == "cancelled"]
    assert [o["id"] for o in again[0].json()["orders"]] == cancelled[10:20]


async def test_filters_beside_page_info_are_rejected_like_shopify(sim_client: httpx.AsyncClient) -> None:
    first = await sim_client.get(f"{API}/orders.json", params={"status": "any"}, headers=TOKEN)
    response = await sim_client.get(_links(first)["next"] + "&status=any", headers=TOKEN)
    assert response.status_code == 400
    assert response.json()["errors"]["status"].startswith("status cannot be passed when page_info is present")


async def test_page_parameter_is_rejected(sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.get(f"{API}/orders.json", params={"page": 2}, headers=TOKEN)
    assert response.status_code == 400
    assert response.json() == {"errors": {"page": "page cannot be passed."}}


async def test_tampered_page_info_is_a_400(sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.get(f"{API}/orders.json", params={"page_info": "bm90LWEtY3Vyc29y"},
                                    headers=TOKEN)
    assert response.status_code == 400
    assert "page_info" in response.json()["errors"]


async def test_orders_default_to_open_and_status_any_returns_all(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    default = await sim_client.get(f"{API}/orders/count.json", headers=TOKEN)
    every = await sim_client.get(f"{API}/orders/count.json", params={"status": "any"}, headers=TOKEN)
    assert default.json() == {"count": sum(1 for o in world.orders if _status(o) == "open")}
    assert every.json() == {"count": len(world.orders)}
    listed = await sim_client.get(f"{API}/orders.json", params={"limit": 250}, headers=TOKEN)
    assert {_status(o) for o in listed.json()["orders"]} == {"open"}


async def test_limit_defaults_to_50_and_caps_at_250(sim_client: httpx.AsyncClient) -> None:
    default = await sim_client.get(f"{API}/orders.json", params={"status": "any"}, headers=TOKEN)
    capped = await sim_client.get(f"{API}/orders.json", params={"status": "any", "limit": 400}, headers=TOKEN)
    assert len(default.json()["orders"]) == 50
    assert len(capped.json()["orders"]) == 250
    assert "limit=250&" in capped.headers["Link"]


async def test_one_page_needs_no_link_header(sim_client: httpx.AsyncClient, world: World) -> None:
    ids = ",".join(str(o["id"]) for o in world.orders[:3])
    response = await sim_client.get(f"{API}/orders.json", params={"ids": ids, "status": "any"}, headers=TOKEN)
    assert len(response.json()["orders"]) == 3
    assert "Link" not in response.headers


async def test_fields_trim_records_and_ride_along_in_links(sim_client: httpx.AsyncClient) -> None:
    response = await sim_client.get(f"{API}/customers.json", params={"fields": "id,email", "limit": 5},
                                    headers=TOKEN)
    assert all(set(c) == {"id", "email"} for c in response.json()["customers"])
    assert "fields=id%2Cemail" in response.headers["Link"]
    follow = await sim_client.get(_links(response)["next"], headers=TOKEN)
    assert all(set(c) == {"id", "email"} for c in follow.json()["customers"])


async def test_every_response_carries_the_call_limit_header(sim_client: httpx.AsyncClient) -> None:
    first = await sim_client.get(f"{API}/customers/count.json", headers=TOKEN)
    second = await sim_client.get(f"{API}/customers/count.json", headers=TOKEN)
    assert first.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40"
    # 2/40 unless half a second passed between the two (the bucket leaks 2 a second) on a busy machine.
    assert second.headers["X-Shopify-Shop-Api-Call-Limit"] in ("2/40", "1/40")


async def test_full_bucket_answers_429_with_retry_after(
    sim_client: httpx.AsyncClient, sim_state: SimulatorState
) -> None:
    bucket: LeakyBucket = sim_state.throttles[BUCKET_KEY]
    # Not draining: at 2 calls/s a stall of half a second on a busy machine (CI once) emptied a slot.
    bucket.leak_per_second = 0.0
    bucket.fill(DEMO_CREDENTIALS["shopify_token"], 40)
    response = await sim_client.get(f"{API}/orders.json", headers=TOKEN)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2.0"
    assert response.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
    assert response.json() == {"errors": "Exceeded 2 calls per second for api client. "
                                         "Reduce request rates to resume uninterrupted service."}


async def test_no_throttling_when_rate_limits_are_off(
    sim_client: httpx.AsyncClient, sim_state: SimulatorState
) -> None:
    sim_state.config.rate_limits = False
    sim_state.throttles[BUCKET_KEY].fill(DEMO_CREDENTIALS["shopify_token"], 40)
    response = await sim_client.get(f"{API}/orders/count.json", headers=TOKEN)
    assert response.status_code == 200


async def test_customer_lookups_and_not_found(sim_client: httpx.AsyncClient, world: World) -> None:
    customer = world.shopify_customers[0]
    found = await sim_client.get(f"{API}/customers/{customer['id']}.json", headers=TOKEN)
    assert found.json()["customer"]["email"] == customer["email"]
    missing = await sim_client.get(f"{API}/customers/1.json", headers=TOKEN)
    assert missing.status_code == 404
    assert missing.json() == {"errors": "Not Found"}
    assert (await sim_client.get(f"{API}/orders/1.json", headers=TOKEN)).json() == {"errors": "Not Found"}


@pytest.mark.parametrize("form", ['email:{}', 'email:"{}"', 'email: {} '])
async def test_search_by_email_ignores_case_spaces_and_quotes(
    sim_client: httpx.AsyncClient, world: World, form: str
) -> None:
    messy = next(c for c in world.shopify_customers if c["email"] != c["email"].strip().lower())
    query = form.format(messy["email"].strip().upper())
    response = await sim_client.get(f"{API}/customers/search.json", params={"query": query}, headers=TOKEN)
    assert [c["id"] for c in response.json()["customers"]] == [messy["id"]]


async def test_customer_orders_default_open_and_any_returns_all(
    sim_client: httpx.AsyncClient, world: World
) -> None:
    counts = Counter(o["customer"]["id"] for o in world.orders if o["customer"])
    customer_id = counts.most_common(1)[0][0]
    theirs = world.customer_orders(customer_id)
    url = f"{API}/customers/{customer_id}/orders.json"
    default = await sim_client.get(url, headers=TOKEN)
    every = await sim_client.get(url, params={"status": "any"}, headers=TOKEN)
    assert [o["id"] for o in default.json()["orders"]] == [o["id"] for o in theirs if _status(o) == "open"]
    assert [o["id"] for o in every.json()["orders"]] == [o["id"] for o in theirs]
    assert (await sim_client.get(f"{API}/customers/1/orders.json", headers=TOKEN)).status_code == 404


async def test_created_at_bounds_filter_orders(sim_client: httpx.AsyncClient, world: World) -> None:
    params = {"status": "any", "created_at_min": "2024-01-01T00:00:00Z",
              "created_at_max": "2024-01-31T23:59:59+00:00"}
    count = await sim_client.get(f"{API}/orders/count.json", params=params, headers=TOKEN)
    assert 0 < count.json()["count"] < len(world.orders)
    listed = await sim_client.get(f"{API}/orders.json", params={**params, "limit": 250}, headers=TOKEN)
    assert len(listed.json()["orders"]) == count.json()["count"]


async def test_any_dated_version_is_served_and_others_are_not(sim_client: httpx.AsyncClient) -> None:
    ok = await sim_client.get("/shopify/admin/api/2025-01/customers/count.json", headers=TOKEN)
    bad = await sim_client.get("/shopify/admin/api/latest/customers/count.json", headers=TOKEN)
    assert ok.status_code == 200
    assert bad.status_code == 404


async def test_injected_faults_render_shopify_error_bodies(sim_client: httpx.AsyncClient) -> None:
    await sim_client.post("/__faults", json={"source": "shopify", "status": 503, "rate": 1.0})
    response = await sim_client.get(f"{API}/orders.json", headers=TOKEN)
    assert response.status_code == 503
    assert response.json() == {"errors": "Injected fault"}
