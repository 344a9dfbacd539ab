"""Which source and endpoint feeds each field of the schema, and which cache policy keeps it: for the catalogue.

    feed_of("Customer", "emailMarketingStatus")   # Feed("mailchimp", "list member by email hash", "members")

A field takes its own entry, else its type's; a field whose value the gateway computes from its
parent's record (an id, a connection's edges) is fed by whatever fed the parent. ``cache`` names the
``cache.<entity>`` policy (its TTL) the records are kept under.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Feed:
    sources: tuple[str, ...]
    endpoint: str         # the API resource, in the vendor's words
    cache: str | None     # the cache policy name (settings.cache.<name>), None: not cached


CONTACTS = Feed(("hubspot",), "CRM contacts (batch read, list, search by email)", "contacts")
CUSTOMERS = Feed(("shopify",), "GraphQL Admin API: customers (by id or email)", "customers")
ORDERS = Feed(("shopify",), "GraphQL Admin API: orders (any status)", "orders")
CAMPAIGNS = Feed(("mailchimp", "googleads"), "Mailchimp campaigns; Google Ads campaigns (searchStream GAQL)",
                 "campaigns")
REPORTS = Feed(("mailchimp", "googleads"), "Mailchimp campaign reports; Google Ads campaign metrics", "reports")
ANALYTICS = Feed(("ga4",), "runReport", "analytics")

BY_TYPE: dict[str, Feed] = {
    "Customer": CONTACTS, "CustomerConnection": CONTACTS, "CustomerEdge": CONTACTS,
    "Order": ORDERS, "OrderConnection": ORDERS, "OrderEdge": ORDERS, "LineItem": ORDERS,
    "Campaign": CAMPAIGNS, "CampaignConnection": CAMPAIGNS, "CampaignEdge": CAMPAIGNS,
    "CampaignStats": REPORTS, "AnalyticsSummary": ANALYTICS, "AnalyticsReport": ANALYTICS,
    "AnalyticsRow": ANALYTICS, "MetricHeader": ANALYTICS,
}
BY_FIELD: dict[tuple[str, str], Feed] = {
    ("Customer", "totalSpent"): CUSTOMERS, ("Customer", "ordersCount"): CUSTOMERS,
    ("Customer", "emailMarketingStatus"): Feed(("mailchimp",), "list member by email hash", "members"),
    ("Customer", "orders"): ORDERS, ("Order", "customer"): CONTACTS, ("Order", "campaign"): CAMPAIGNS,
    ("Campaign", "stats"): REPORTS, ("Campaign", "analytics"): ANALYTICS,
    ("Query", "customer"): CONTACTS, ("Query", "customerByEmail"): CONTACTS, ("Query", "customers"): CONTACTS,
    ("Query", "order"): ORDERS, ("Query", "orders"): ORDERS, ("Query", "campaign"): CAMPAIGNS,
    ("Query", "campaigns"): CAMPAIGNS, ("Query", "analytics"): ANALYTICS,
    ("Query", "node"): Feed(("hubspot", "shopify", "mailchimp", "googleads"), "by the id's type", None),
}


def feed_of(type_name: str, field_name: str) -> Feed | None:
    return BY_FIELD.get((type_name, field_name)) or BY_TYPE.get(type_name)
