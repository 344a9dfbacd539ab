"""The upstream calls a query causes equal the floor the SaaS APIs allow, and no key is asked twice."""

from __future__ import annotations

import json
from collections import Counter

from harmonia.simulators.data import World
from tests.conftest import Gateway

ORDERS_WITH_CUSTOMER = """
{ orders(first: 50) { edges { node { name totalPrice { amount currencyCode } customer { email firstName } } } } }
"""
CUSTOMERS_WITH_ORDERS = """
{ customers(first: 50) { edges { node { email orders(first: 5) { edges { node { name } } } } } } }
"""
CAMPAIGNS_WITH_ANALYTICS = """
{ campaigns(first: 20) { edges { node { name
    analytics(dateRange: {startDate: "2026-01-01", endDate: "2026-03-31"}) { sessions } } } } }
"""


def _only(calls: dict[str, int], **expected: int) -> dict[str, int]:
    return {source: n for source, n in calls.items() if n or source in expected}


GRAPHQL_ROUTE = "POST /admin/api/{version}/graphql.json"


def _shopify_documents(gateway: Gateway) -> list[dict[str, object]]:
    return [json.loads(str(r["body"])) for r in gateway.log("shopify")]


async def test_fifty_orders_with_customers_cost_one_shopify_query_and_one_hubspot_batch(gateway: Gateway) -> None:
    body = await gateway.query(ORDERS_WITH_CUSTOMER)

    assert "errors" not in body
    edges = body["data"]["orders"]["edges"]
    assert len(edges) == 50
    assert sum(1 for e in edges if e["node"]["customer"]) >= 40
    assert _only(gateway.upstream_calls()) == {"shopify": 1, "hubspot": 1}
    assert gateway.routes("shopify") == {GRAPHQL_ROUTE: 1}
    assert gateway.routes("hubspot") == {"POST /crm/objects/2026-09/contacts/batch/read": 1}
    [batch] = gateway.log("hubspot")
    emails = [i["id"] for i in json.loads(batch["body"])["inputs"]]
    assert len(emails) == len(set(emails)), "an email was asked for twice"


async def test_fifty_customers_with_five_orders_each_cost_one_hubspot_page_and_at_most_two_shopify_queries(
    gateway: Gateway, world: World
) -> None:
    body = await gateway.query(CUSTOMERS_WITH_ORDERS)

    assert "errors" not in body
    edges = body["data"]["customers"]["edges"]
    assert len(edges) == 50
    # One Shopify query: 34 linked customers by nodes(ids:) (18 points each) and 16 looked up by email with
    # their orders in the same document (24 each): 996 points, under Shopify's 1000 a query.
    assert _only(gateway.upstream_calls()) == {"hubspot": 1, "shopify": 1}
    [document] = _shopify_documents(gateway)
    stats = (await gateway.sim_stats())["shopify"]
    assert stats["operations"] == {"HarmoniaCustomerOrders": 1}
    assert "nodes(ids: $n0)" in str(document["query"]) and "customers(first: 1, query: $e" in str(document["query"])
    assert gateway.routes("hubspot") == {"GET /crm/objects/2026-09/contacts": 1}
    # Every contact's orders are the ones its Shopify customer has: linked by id, else found by email.
    shop_by_id = {str(c["id"]): c for c in world.shopify_customers}
    shop_by_email = {c["email"].strip().lower(): c for c in world.shopify_customers}
    live = [c for c in world.contacts if not c["archived"]][:50]
    for contact, edge in zip(live, edges, strict=True):
        props = contact["properties"]
        customer = (shop_by_id.get(props["shopify_customer_id"]) if props["shopify_customer_id"]
                    else shop_by_email.get(props["email"].strip().lower()))
        expected = [o["name"] for o in world.customer_orders(customer["id"])][:5] if customer else []
        assert [e["node"]["name"] for e in edge["node"]["orders"]["edges"]] == expected, contact["id"]
    assert sum(1 for e in edges if e["node"]["orders"]["edges"]) >= 30


async def test_twenty_campaigns_with_analytics_cost_one_ga4_report(gateway: Gateway) -> None:
    body = await gateway.query(CAMPAIGNS_WITH_ANALYTICS)

    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["campaigns"]["edges"]]
    assert len(nodes) == 20
    assert all(n["analytics"]["sessions"] >= 0 for n in nodes)
    assert sum(n["analytics"]["sessions"] for n in nodes) > 0
    assert _only(gateway.upstream_calls()) == {"mailchimp": 1, "ga4": 1}
    [report] = gateway.log("ga4")
    names = json.loads(report["body"])["dimensionFilter"]["filter"]["inListFilter"]["values"]
    assert sorted(names) == sorted(n["name"] for n in nodes)


async def test_a_customer_email_alone_never_touches_shopify_or_mailchimp(gateway: Gateway) -> None:
    body = await gateway.query("{ customers(first: 30) { edges { node { email firstName } } } }")

    assert "errors" not in body
    assert _only(gateway.upstream_calls()) == {"hubspot": 1}


async def test_customer_joins_batch_shopify_customers_and_fetch_each_member_once(gateway: Gateway) -> None:
    body = await gateway.query(
        "{ customers(first: 40) { edges { node { email totalSpent { amount } ordersCount emailMarketingStatus } } } }"
    )

    assert "errors" not in body
    # Linked customers in one nodes(ids:) query; the unlinked ones in one aliased query by email.
    operations = Counter(str(d["query"]).split("(")[0].split()[-1] for d in _shopify_documents(gateway))
    assert operations == {"HarmoniaCustomersByIds": 1, "HarmoniaCustomersByEmail": 1}
    member_paths = Counter(r["path"] for r in gateway.log("mailchimp"))
    assert member_paths and max(member_paths.values()) == 1


async def test_email_campaign_stats_come_from_the_campaign_list_without_report_calls(
    gateway: Gateway, world: World
) -> None:
    body = await gateway.query("{ campaigns(first: 20) { edges { node { name "
                               "stats { emailsSent opens uniqueOpens openRate clicks clickRate } } } } }")

    assert "errors" not in body
    assert _only(gateway.upstream_calls()) == {"mailchimp": 1}
    for edge in body["data"]["campaigns"]["edges"]:
        campaign = next(c for c in world.campaigns if c["settings"]["title"] == edge["node"]["name"])
        report = world.reports.get(campaign["id"])
        stats = edge["node"]["stats"]
        if report is None:
            assert stats is None
            continue
        assert stats == {"emailsSent": report["emails_sent"], "opens": report["opens"]["opens_total"],
                         "uniqueOpens": report["opens"]["unique_opens"], "openRate": report["opens"]["open_rate"],
                         "clicks": report["clicks"]["clicks_total"], "clickRate": report["clicks"]["click_rate"]}


async def test_stats_only_a_report_has_fetch_the_reports_once_each(gateway: Gateway, world: World) -> None:
    body = await gateway.query("""{ campaigns(first: 20) { edges { node { name ...Unsubs } } } }
        fragment Unsubs on Campaign { stats { unsubscribed } }""")

    assert "errors" not in body
    sent = sum(1 for c in world.campaigns[:20] if c["id"] in world.reports)
    assert gateway.routes("mailchimp") == {"GET /3.0/campaigns": 1, "GET /3.0/reports/{campaign_id}": sent}
