"""The example operations preloaded in GraphiQL (and run by the demo test: each must answer cleanly)."""

from __future__ import annotations

EXAMPLES: dict[str, str] = {
    "Customers with their orders": """\
# Customers (HubSpot) joined with Shopify orders and Mailchimp status
query CustomersWithOrders {
  customers(first: 10) {
    edges {
      cursor
      node {
        id
        email
        firstName
        lastName
        phone
        lifecycleStage
        createdAt
        totalSpent { amount currencyCode }
        ordersCount
        emailMarketingStatus
        orders(first: 5) {
          edges { node { name createdAt totalPrice { amount currencyCode } financialStatus } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    "Orders with customer and campaign": """\
# Shopify orders (every status), their CRM customer and the campaign that brought them
query OrdersWithCustomer {
  orders(first: 50) {
    totalCount
    edges {
      node {
        id
        name
        createdAt
        totalPrice { amount currencyCode }
        financialStatus
        lineItems { title quantity price { amount currencyCode } }
        customer { email firstName lastName phone }
        campaign { name channel }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    "Campaigns with stats and web analytics": """\
# Mailchimp and Google Ads campaigns with their stats and GA4 sessions
query CampaignPerformance {
  campaigns(first: 20) {
    totalCount
    edges {
      node {
        id
        name
        channel
        status
        stats {
          emailsSent openRate clickRate
          impressions clicks ctr conversions cost { amount currencyCode }
        }
        analytics(dateRange: {startDate: "2026-01-01", endDate: "2026-03-31"}) {
          sessions totalUsers conversions totalRevenue { amount currencyCode }
        }
      }
    }
  }
}
""",
    "Web analytics report": """\
# Any GA4 report: sessions and revenue by device for one month
query AnalyticsByDevice {
  analytics(
    dateRange: {startDate: "2026-06-01", endDate: "2026-06-30"}
    dimensions: ["deviceCategory"]
    metrics: ["sessions", "totalUsers", "totalRevenue"]
  ) {
    dimensionHeaders
    metricHeaders { name type }
    rows { dimensionValues metricValues }
    rowCount
    currencyCode
  }
}
""",
}
