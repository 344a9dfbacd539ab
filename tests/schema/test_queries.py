"""The contract's schema answers correctly against the simulators."""

from __future__ import annotations

import re
from decimal import Decimal

from harmonia.simulators.data import World
from harmonia.sources.normalize import normalize_email
from tests.conftest import Gateway

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
MONEY = re.compile(r"^-?\d+\.\d{2,}$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


async def test_a_customers_orders_equal_the_shops_orders_for_that_customer(gateway: Gateway, world: World) -> None:
    contact = next(c for c in world.contacts if not c["archived"] and c["properties"]["shopify_customer_id"]
                   and len(world.customer_orders(int(c["properties"]["shopify_customer_id"]))) >= 4)
    expected = world.customer_orders(int(contact["properties"]["shopify_customer_id"]))

    body = await gateway.query(
        """query($email: String!) { customerByEmail(email: $email) {
             orders(first: 50) { edges { node { name totalPrice { amount currencyCode } } } } } }""",
        {"email": contact["properties"]["email"]},
    )

    assert "errors" not in body
    got = [e["node"] for e in body["data"]["customerByEmail"]["orders"]["edges"]]
    assert sorted(o["name"] for o in got) == sorted(o["name"] for o in expected)
    assert {o["name"]: o["totalPrice"]["amount"] for o in got} == {o["name"]: o["total_price"] for o in expected}


async def test_cancelled_and_closed_orders_are_listed_too(gateway: Gateway, world: World) -> None:
    body = await gateway.query("{ orders(first: 100) { edges { node { name } } } }")

    names = [e["node"]["name"] for e in body["data"]["orders"]["edges"]]
    assert names == [o["name"] for o in world.orders[:100]]
    assert any(o["cancelled_at"] for o in world.orders[:100]) and any(o["closed_at"] for o in world.orders[:100])


async def test_money_dates_emails_and_phones_are_normalized(gateway: Gateway) -> None:
    body = await gateway.query("""{
      customers(first: 100) { edges { node { email phone createdAt totalSpent { amount currencyCode } } } }
      orders(first: 50) { edges { node { createdAt totalPrice { amount currencyCode }
                                         lineItems { quantity price { amount currencyCode } } } } }
    }""")

    assert "errors" not in body
    customers = [e["node"] for e in body["data"]["customers"]["edges"]]
    for c in customers:
        assert c["email"] == c["email"].strip().lower()
        assert c["phone"] is None or E164.match(c["phone"]), c["phone"]
        assert ISO_UTC.match(c["createdAt"]), c["createdAt"]
        if c["totalSpent"]:
            assert MONEY.match(c["totalSpent"]["amount"]) and c["totalSpent"]["currencyCode"] == "USD"
    assert sum(1 for c in customers if c["phone"]) > 50
    for edge in body["data"]["orders"]["edges"]:
        order = edge["node"]
        assert ISO_UTC.match(order["createdAt"]), order["createdAt"]
        total = Decimal(order["totalPrice"]["amount"])
        items = sum(Decimal(li["price"]["amount"]) * li["quantity"] for li in order["lineItems"])
        assert total == (items * Decimal("1.08")).quantize(Decimal("0.01")) or total > items


async def test_node_round_trips_for_every_type(gateway: Gateway) -> None:
    body = await gateway.query("""{
      customers(first: 1) { edges { node { id email } } }
      orders(first: 1) { edges { node { id name } } }
      campaigns(first: 40) { edges { node { id name channel } } }
    }""")
    ids = [body["data"]["customers"]["edges"][0]["node"], body["data"]["orders"]["edges"][0]["node"]]
    campaigns = [e["node"] for e in body["data"]["campaigns"]["edges"]]
    ids += [next(c for c in campaigns if c["channel"] == channel) for channel in ("EMAIL", "SEARCH")]

    for expected in ids:
        got = await gateway.query(
            """query($id: ID!) { node(id: $id) { id __typename
                 ... on Customer { email } ... on Order { name } ... on Campaign { name channel } } }""",
            {"id": expected["id"]},
        )
        assert "errors" not in got, got
        node = got["data"]["node"]
        assert node["id"] == expected["id"]
        assert {k: v for k, v in node.items() if k in expected} == expected


async def test_walking_customers_page_by_page_visits_each_once_at_one_call_per_page(
    gateway: Gateway, world: World
) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await gateway.query(
            "query($after: String) { customers(first: 100, after: $after) { edges { cursor node { id } } "
            "pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )
        connection = body["data"]["customers"]
        pages += 1
        seen += [e["node"]["id"] for e in connection["edges"]]
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen)) == sum(1 for c in world.contacts if not c["archived"])
    assert gateway.upstream_calls()["hubspot"] == pages


async def test_resuming_from_any_edge_cursor_continues_right_after_it(gateway: Gateway) -> None:
    first = await gateway.query("{ orders(first: 10) { edges { cursor node { name } } } }")
    edges = first["data"]["orders"]["edges"]

    resumed = await gateway.query(
        "query($after: String) { orders(first: 3, after: $after) { edges { node { name } } } }",
        {"after": edges[4]["cursor"]},
    )

    assert [e["node"]["name"] for e in resumed["data"]["orders"]["edges"]] == [e["node"]["name"] for e in edges[5:8]]


async def test_orders_are_attributed_to_the_campaign_in_their_utm_campaign(gateway: Gateway, world: World) -> None:
    body = await gateway.query("{ orders(first: 60) { edges { node { name campaign { name channel } } } } }")

    assert "errors" not in body
    by_name = {o["name"]: o for o in world.orders[:60]}
    attributed = 0
    for edge in body["data"]["orders"]["edges"]:
        node, landing = edge["node"], by_name[edge["node"]["name"]]["landing_site"]
        # A Meta ad's order names a campaign of the declared Meta Ads source, not enabled here: unattributed
        # (tests/declared attributes them with it).
        if "utm_campaign=" not in landing or "utm_source=facebook" in landing:
            assert node["campaign"] is None
            continue
        attributed += 1
        assert node["campaign"] is not None
        assert landing.endswith(node["campaign"]["name"].replace(" ", "+").replace(":", "%3A").replace("'", "%27")
                                .replace("-", "-"))
    assert attributed > 20


async def test_order_customer_is_the_crm_contact_with_the_orders_email(gateway: Gateway, world: World) -> None:
    body = await gateway.query("{ orders(first: 30) { edges { node { name customer { email } } } } }")

    contacts = {normalize_email(c["properties"]["email"]) for c in world.contacts if not c["archived"]}
    for edge, order in zip(body["data"]["orders"]["edges"], world.orders[:30], strict=True):
        email = normalize_email(order["email"])
        customer = edge["node"]["customer"]
        assert (customer is not None) == (email in contacts)
        if customer:
            assert customer["email"] == email


async def test_campaigns_cover_email_and_search_with_their_stats(gateway: Gateway, world: World) -> None:
    body = await gateway.query("""{ campaigns(first: 50) { totalCount edges { node { name channel status
        stats { emailsSent uniqueOpens openRate impressions clicks cost { amount currencyCode } } } } } }""")

    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["campaigns"]["edges"]]
    assert body["data"]["campaigns"]["totalCount"] == len(world.campaigns) + len(world.ads_campaigns) == len(nodes)
    for campaign in world.campaigns:
        node = next(n for n in nodes if n["name"] == campaign["settings"]["title"])
        report = world.reports.get(campaign["id"])
        assert node["channel"] == "EMAIL"
        assert (node["stats"] or {}).get("emailsSent") == (report["emails_sent"] if report else None)
    search = [n for n in nodes if n["channel"] == "SEARCH"]
    assert len(search) == len(world.ads_campaigns)
    for node in search:
        camp = next(c for c in world.ads_campaigns if c["name"] == node["name"])
        rows = [d for d in world.ads_daily if d["campaign_id"] == camp["id"]]
        assert node["stats"]["impressions"] == sum(d["impressions"] for d in rows)
        assert node["stats"]["cost"]["amount"] == f"{Decimal(sum(d['cost_micros'] for d in rows)) / 1_000_000:.2f}"


async def test_analytics_report_sums_match_the_property_data(gateway: Gateway, world: World) -> None:
    body = await gateway.query("""{ analytics(dateRange: {startDate: "2026-02-01", endDate: "2026-02-28"},
        dimensions: ["deviceCategory"], metrics: ["sessions"]) { dimensionHeaders rows { dimensionValues metricValues }
        rowCount } }""")

    assert "errors" not in body
    report = body["data"]["analytics"]
    got = {r["dimensionValues"][0]: int(r["metricValues"][0]) for r in report["rows"]}
    expected: dict[str, int] = {}
    for row in world.ga4_rows:
        if "20260201" <= row["date"] <= "20260228":
            expected[row["deviceCategory"]] = expected.get(row["deviceCategory"], 0) + row["sessions"]
    assert got == expected and report["rowCount"] == len(expected)


async def test_a_line_item_without_a_price_fails_only_the_queries_that_ask_for_line_items(
    writable_gateway: Gateway, writable_world: World
) -> None:
    order = writable_world.orders[1]
    order["line_items"] = [{k: v for k, v in item.items() if k not in ("price", "price_set")}
                           for item in order["line_items"]]

    plain = await writable_gateway.query("{ orders(first: 3) { edges { node { name totalPrice { amount } } } } }")
    asked = await writable_gateway.query("{ orders(first: 3) { edges { node { name lineItems { title } } } } }")

    assert "errors" not in plain
    assert [e["node"]["name"] for e in plain["data"]["orders"]["edges"]] == [
        o["name"] for o in writable_world.orders[:3]]
    assert [(e["path"], e["extensions"]["code"]) for e in asked["errors"]] == [
        (["orders", "edges", 1, "node", "lineItems"], "UPSTREAM_UNAVAILABLE")]
