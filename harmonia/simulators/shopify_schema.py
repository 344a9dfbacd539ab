"""The part of Shopify's GraphQL Admin API (2026-10) the simulator serves, as SDL.

    schema = admin_schema()          # a graphql-core GraphQLSchema, built once per process

Names, nullability, argument defaults and enums follow shopify.dev's 2026-10 reference for the
types Harmonia reads and writes (orders, customers, their money, their customer journey, the shop,
the app's access scopes, and four customer mutations); everything else of the real schema is left
out. ``Customer.email`` is kept, deprecated, as upstreams.md says the fakes keep it; a real 2026-10
schema no longer lists it, so the connector never asks for it. Resolvers live in ``shopify_graph``.
"""

from __future__ import annotations

from functools import lru_cache

from graphql import GraphQLSchema, build_schema

SDL = """
scalar DateTime
scalar Decimal
scalar URL
scalar UnsignedInt64

interface Node { id: ID! }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum CurrencyCode { USD EUR GBP CAD AUD JPY }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type Count { count: Int! precision: CountPrecision! }
enum CountPrecision { EXACT AT_LEAST }

type UTMParameters { campaign: String content: String medium: String source: String term: String }
type CustomerVisit implements Node {
  id: ID!
  landingPage: URL
  landingPageHtml: String
  occurredAt: DateTime!
  referrerUrl: URL
  source: String!
  utmParameters: UTMParameters
}
type CustomerJourneySummary {
  customerOrderIndex: Int
  daysToConversion: Int
  firstVisit: CustomerVisit
  lastVisit: CustomerVisit
  ready: Boolean!
}

type LineItem implements Node {
  id: ID!
  name: String!
  title: String!
  quantity: Int!
  sku: String
  variantTitle: String
  originalUnitPriceSet: MoneyBag!
  discountedUnitPriceSet: MoneyBag!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

enum OrderDisplayFinancialStatus {
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
}
enum OrderDisplayFulfillmentStatus {
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT RESTOCKED SCHEDULED UNFULFILLED
}
enum OrderSortKeys {
  CREATED_AT CUSTOMER_NAME FINANCIAL_STATUS FULFILLMENT_STATUS ID ORDER_NUMBER PROCESSED_AT RELEVANCE
  TOTAL_PRICE UPDATED_AT
}

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  createdAt: DateTime!
  processedAt: DateTime!
  updatedAt: DateTime!
  currencyCode: CurrencyCode!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  totalPriceSet: MoneyBag!
  currentTotalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalTaxSet: MoneyBag
  cancelledAt: DateTime
  closedAt: DateTime
  closed: Boolean!
  customer: Customer
  customerJourneySummary: CustomerJourneySummary
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

enum CustomerEmailAddressMarketingState { INVALID NOT_SUBSCRIBED PENDING REDACTED SUBSCRIBED UNSUBSCRIBED }
enum CustomerEmailMarketingState { INVALID NOT_SUBSCRIBED PENDING REDACTED SUBSCRIBED UNSUBSCRIBED }
enum CustomerMarketingOptInLevel { CONFIRMED_OPT_IN SINGLE_OPT_IN UNKNOWN }
enum CustomerSmsMarketingState { NOT_SUBSCRIBED PENDING REDACTED SUBSCRIBED UNSUBSCRIBED }
enum CustomerState { DECLINED DISABLED ENABLED INVITED }
enum CustomerSortKeys { CREATED_AT ID LOCATION NAME RELEVANCE UPDATED_AT }

type CustomerEmailAddress {
  emailAddress: String
  marketingState: CustomerEmailAddressMarketingState!
  marketingOptInLevel: CustomerMarketingOptInLevel
  marketingUpdatedAt: DateTime
}
type CustomerPhoneNumber { phoneNumber: String! marketingState: CustomerSmsMarketingState! }
type CustomerEmailMarketingConsentState {
  marketingState: CustomerEmailMarketingState!
  marketingOptInLevel: CustomerMarketingOptInLevel
  consentUpdatedAt: DateTime
}

type Customer implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  firstName: String
  lastName: String
  displayName: String!
  email: String @deprecated(reason: "Use `defaultEmailAddress.emailAddress` instead.")
  defaultEmailAddress: CustomerEmailAddress
  defaultPhoneNumber: CustomerPhoneNumber
  emailMarketingConsent: CustomerEmailMarketingConsentState
  numberOfOrders: UnsignedInt64!
  amountSpent: MoneyV2!
  createdAt: DateTime!
  updatedAt: DateTime!
  note: String
  tags: [String!]!
  state: CustomerState!
  canDelete: Boolean!
  verifiedEmail: Boolean!
  orders(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
         sortKey: OrderSortKeys = ID, query: String): OrderConnection!
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }

type AccessScope { handle: String! description: String! }
type AppInstallation implements Node { id: ID! accessScopes: [AccessScope!]! }
type ShopPlan { displayName: String! partnerDevelopment: Boolean! shopifyPlus: Boolean! }
type Shop implements Node {
  id: ID!
  name: String!
  myshopifyDomain: String!
  currencyCode: CurrencyCode!
  ianaTimezone: String!
  plan: ShopPlan!
}

type Query {
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  order(id: ID!): Order
  orders(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
         sortKey: OrderSortKeys = PROCESSED_AT, query: String): OrderConnection!
  ordersCount(query: String, limit: Int = 10000): Count
  customer(id: ID!): Customer
  customers(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
            sortKey: CustomerSortKeys = ID, query: String): CustomerConnection!
  customersCount(query: String, limit: Int = 10000): Count
  shop: Shop!
  currentAppInstallation: AppInstallation!
}

input CustomerEmailMarketingConsentInput {
  marketingState: CustomerEmailMarketingState!
  marketingOptInLevel: CustomerMarketingOptInLevel
  consentUpdatedAt: DateTime
  sourceLocationId: ID
}
input CustomerInput {
  id: ID
  email: String
  phone: String
  firstName: String
  lastName: String
  note: String
  tags: [String!]
  emailMarketingConsent: CustomerEmailMarketingConsentInput
}
input CustomerEmailMarketingConsentUpdateInput {
  customerId: ID!
  emailMarketingConsent: CustomerEmailMarketingConsentInput!
}
input CustomerDeleteInput { id: ID! }

type UserError { field: [String!] message: String! }
enum CustomerEmailMarketingConsentUpdateUserErrorCode { INCLUSION INTERNAL_ERROR INVALID MISSING_ARGUMENT }
type CustomerEmailMarketingConsentUpdateUserError {
  field: [String!]
  message: String!
  code: CustomerEmailMarketingConsentUpdateUserErrorCode
}
enum CustomerRequestDataErasureErrorCode { DOES_NOT_EXIST FAILED_TO_REQUEST }
type CustomerRequestDataErasureUserError {
  field: [String!]
  message: String!
  code: CustomerRequestDataErasureErrorCode
}

type CustomerUpdatePayload { customer: Customer userErrors: [UserError!]! }
type CustomerEmailMarketingConsentUpdatePayload {
  customer: Customer
  userErrors: [CustomerEmailMarketingConsentUpdateUserError!]!
}
type CustomerRequestDataErasurePayload { customerId: ID userErrors: [CustomerRequestDataErasureUserError!]! }
type CustomerDeletePayload { deletedCustomerId: ID shop: Shop! userErrors: [UserError!]! }

type Mutation {
  customerUpdate(input: CustomerInput!): CustomerUpdatePayload
  customerEmailMarketingConsentUpdate(input: CustomerEmailMarketingConsentUpdateInput!):
    CustomerEmailMarketingConsentUpdatePayload
  customerRequestDataErasure(customerId: ID!): CustomerRequestDataErasurePayload
  customerDelete(input: CustomerDeleteInput!): CustomerDeletePayload
}
"""


@lru_cache(maxsize=8)
def admin_schema(hidden: frozenset[str] = frozenset()) -> GraphQLSchema:
    """The schema, less the ``Type.field`` names in ``hidden``: a shop or version without them."""
    schema = build_schema(SDL)
    for name in hidden:
        kind, _, field = name.partition(".")
        fields = getattr(schema.get_type(kind), "fields", None)
        if fields is not None:
            fields.pop(field, None)
    return schema
