"""How many upstream requests an operation will cause, per source, from each API's batch maxima.

    calls = estimate_upstream_calls(price.visits)
    calls == {"hubspot": 1, "shopify": 51, "mailchimp": 0, "ga4": 0, "googleads": 0}

Points price an operation; a SaaS quota counts requests. Each field that reaches a source names
the loader it goes through and how that loader batches: HubSpot reads 100 contacts per call,
Shopify 250 ids (fewer when their cost would pass its 1000-point query limit: 30 orders with their
line items, 166 with their attribution), Mailchimp has no batch read (one call per key), GA4
answers every campaign in one report per distinct date range, and many customers' Shopify orders
share one query as far as its 1000 points go (``customers_per_query``).
Fields that share a loader on the same objects (``totalSpent`` and ``ordersCount``) share its
calls. The figure assumes the HubSpot-Shopify sync wrote each contact's ``shopify_customer_id``
(contacts without one add a Shopify lookup by email each), and ``node(id)`` counts nothing
statically: its source is in the id.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from harmonia.limits.pricing import Visit

SOURCES = ("hubspot", "shopify", "mailchimp", "ga4", "googleads")

PER_KEY = 1  # no batch endpoint: one call per distinct key
PAGED = -1  # a listing: ceil(first / page maximum) calls per connection
ONCE = -2  # fetched once per operation whoever asks
PER_ARGUMENTS = -3  # one call per distinct argument set, covering every key
EACH = -4  # one call each time the field resolves (no loader in between)
BY_COST = -5  # Shopify: as many keys per call as fit in one query's points, by the page size asked

SHOPIFY_QUERY_POINTS = 1000


@dataclass(frozen=True, slots=True)
class Fetch:
    source: str
    loader: str
    batch: int  # keys per call, or one of the modes above
    page: int = 0  # PAGED: the page maximum


FETCHES: dict[str, tuple[Fetch, ...]] = {
    "Query.customers": (Fetch("hubspot", "contacts.list", PAGED, 100),),
    "Query.customer": (Fetch("hubspot", "contacts.by_id", 100),),
    "Query.customerByEmail": (Fetch("hubspot", "contacts.by_email", 100),),
    "Query.orders": (Fetch("shopify", "orders.list", PAGED, 250),),
    "Query.order": (Fetch("shopify", "orders.by_id", 250),),
    "Query.campaigns": (Fetch("mailchimp", "campaigns.list", PAGED, 1000),
                        Fetch("googleads", "campaigns.list", EACH)),
    "Query.campaign": (Fetch("mailchimp", "campaigns.by_id", PER_KEY),),
    "Query.analytics": (Fetch("ga4", "report", EACH),),
    "Query.orders/OrderConnection.totalCount": (Fetch("shopify", "orders.count", EACH),),
    "CampaignConnection.totalCount": (Fetch("mailchimp", "campaigns.count", EACH),
                                      Fetch("googleads", "campaigns.count", EACH)),
    "Customer.totalSpent": (Fetch("shopify", "customers.by_id", 250),),
    "Customer.ordersCount": (Fetch("shopify", "customers.by_id", 250),),
    "Customer.emailMarketingStatus": (Fetch("mailchimp", "members", PER_KEY),),
    "Customer.orders": (Fetch("shopify", "customer.orders", BY_COST),),
    "Order.customer": (Fetch("hubspot", "contacts.by_email", 100),),
    "Order.lineItems": (Fetch("shopify", "orders.line_items", 30),),
    "Order.campaign": (Fetch("shopify", "orders.attribution", 166), Fetch("mailchimp", "campaigns.all", ONCE),
                       Fetch("googleads", "campaigns.list", ONCE)),
    # Email campaigns need one report each; search campaigns share one stream per date range.
    "Campaign.stats": (Fetch("mailchimp", "reports", PER_KEY), Fetch("googleads", "metrics", PER_ARGUMENTS)),
    "Campaign.analytics": (Fetch("ga4", "campaign_analytics", PER_ARGUMENTS),),
}


def customers_per_query(first: object) -> int:
    """How many customers' pages of ``first`` orders one Shopify query holds (3 points an order, 3 more
    for the customer and its connection)."""
    size = first if isinstance(first, int) and first > 0 else 10
    return max(1, SHOPIFY_QUERY_POINTS // (3 + 3 * size))


def estimate_upstream_calls(visits: Iterable[Visit]) -> dict[str, int]:
    # fetch -> (parent path, arguments) -> objects asking: fields on the same objects with the same
    # arguments (``totalSpent`` and ``ordersCount``) load the same keys.
    keys: dict[Fetch, dict[tuple[str, bytes], int]] = defaultdict(dict)
    arguments: dict[Fetch, set[bytes]] = defaultdict(set)
    calls = dict.fromkeys(SOURCES, 0)
    parent_of: dict[str, str] = {}
    for visit in visits:
        planned = visit.field
        parent_of[planned.path] = planned.coordinate
        fetches = FETCHES.get(f"{parent_of.get(visit.parent_path, '')}/{planned.coordinate}") \
            or FETCHES.get(planned.coordinate, ())
        if not fetches or visit.parents == 0:
            continue
        args = orjson.dumps(planned.args, option=orjson.OPT_SORT_KEYS)
        for fetch in fetches:
            if fetch.batch == BY_COST:
                fetch = Fetch(fetch.source, fetch.loader, customers_per_query(planned.args.get("first")))
            if fetch.batch == PAGED:
                first = planned.args.get("first")
                pages = math.ceil(first / fetch.page) if isinstance(first, int) and first > 0 else 0
                calls[fetch.source] += visit.parents * pages
            elif fetch.batch == EACH:
                calls[fetch.source] += visit.parents
            elif fetch.batch == PER_ARGUMENTS:
                arguments[fetch].add(args)
            else:
                by_objects = keys[fetch]
                by_objects[visit.parent_path, args] = max(by_objects.get((visit.parent_path, args), 0), visit.parents)
    for fetch, by_objects in keys.items():
        wanted = sum(by_objects.values())
        calls[fetch.source] += min(1, wanted) if fetch.batch == ONCE else math.ceil(wanted / fetch.batch)
    for fetch, distinct in arguments.items():
        calls[fetch.source] += len(distinct)
    return calls
