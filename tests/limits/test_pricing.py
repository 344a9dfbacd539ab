"""Static cost, hand-derived: objects 1, scalars 0, lists times their slicing argument, weights, mutations 10.

Default weights (settings): Query.analytics 20, Campaign.analytics 5, Campaign.stats 2,
OrderConnection.totalCount 1, CampaignConnection.totalCount 1; Order.lineItems assumed 5 long,
other unbounded lists 10; a mutation adds 10.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSchema, get_introspection_query, parse, validate

from harmonia.limits.check import Pricing, check_operation
from harmonia.limits.plan import select_operation
from harmonia.limits.pricing import CostModel
from harmonia.limits.role_limits import limits_for
from harmonia.schema import build_schema
from harmonia.settings import load_settings

SCHEMA: GraphQLSchema = build_schema()._schema
WITH_MUTATION = SCHEMA  # the gateway's own mutations (updateCustomer, ...)
SETTINGS = load_settings()
MODEL = CostModel.from_settings(SETTINGS.limits)
Q1 = '{startDate: "2026-01-01", endDate: "2026-03-31"}'

TABLE: list[tuple[str, str, dict[str, Any], int]] = [
    ("one object, scalars free", '{ customer(id: "x") { email firstName } }', {}, 1),
    ("connection: 1 + first x (edge + node)", "{ customers(first: 10) { edges { node { email } } } }", {}, 21),
    ("schema default first (20)", "{ customers { edges { node { email } } } }", {}, 41),
    ("explicit null first reads the default", "{ customers(first: null) { edges { node { email } } } }", {}, 41),
    ("pageInfo is an object; cursor a scalar",
     "{ customers(first: 5) { pageInfo { hasNextPage } edges { cursor node { email } } } }", {}, 12),
    ("weighted totalCount, money objects, assumed lineItems (5)",
     "{ orders(first: 10) { totalCount edges { node { name totalPrice { amount } "
     "lineItems { title price { amount } } } } } }", {}, 2 + 10 * (3 + 5 * 2)),
    ("variable as first", "query($n: Int) { orders(first: $n) { edges { node { name } } } }", {"n": 7}, 15),
    ("variable default as first", "query($n: Int = 3) { orders(first: $n) { edges { node { name } } } }", {}, 7),
    ("aliases are separate fields",
     "{ a: customers(first: 2) { edges { node { email } } } b: customers(first: 3) { edges { node { email } } } }",
     {}, 5 + 7),
    ("fragment with a nested connection",
     "{ customers(first: 4) { edges { node { ...C } } } } "
     "fragment C on Customer { email orders(first: 2) { edges { node { name } } } }", {}, 1 + 4 * (2 + 5)),
    ("a field selected twice (directly and by fragment) is resolved once",
     "{ customers(first: 2) { edges { node { totalSpent { amount } ...F } } } } "
     "fragment F on Customer { totalSpent { currencyCode } }", {}, 7),
    ("nested connections multiply",
     "{ customers(first: 50) { edges { node { email orders(first: 5) { edges { node { name } } } } } } }",
     {}, 1 + 50 * (2 + 1 + 5 * 2)),
    ("SaaS reports weigh more",
     f"{{ campaigns(first: 20) {{ edges {{ node {{ name stats {{ clicks }} "
     f"analytics(dateRange: {Q1}) {{ sessions totalRevenue {{ amount }} }} }} }} }} }}", {}, 1 + 20 * (2 + 2 + 6)),
    ("a report's rows are sized by its limit",
     f'{{ analytics(dateRange: {Q1}, dimensions: ["date"], metrics: ["sessions"], limit: 50) '
     "{ rowCount rows { dimensionValues } metricHeaders { name } } }", {}, 20 + 50 + 10),
    ("an abstract field costs its dearest possible type",
     '{ node(id: "x") { id ... on Customer { orders(first: 3) { edges { node { name } } } } '
     "... on Order { customer { email } } } }", {}, 1 + 7),
    ("@include(if: false) costs nothing",
     "query($full: Boolean!) { customers(first: 10) { edges { node { email "
     "orders(first: 10) @include(if: $full) { edges { node { name } } } } } } }", {"full": False}, 21),
    ("introspection priced by what it returns", '{ __type(name: "Money") { name fields { name } } }', {}, 3),
    ("__typename is a scalar", "{ __typename }", {}, 0),
    ("a mutation has a base of 10",
     'mutation { updateCustomer(id: "x", input: {firstName: "A"}) { replayed } }', {}, 10 + 1),
    ("a mutation's selection is priced like a query's",
     'mutation { updateCustomer(id: "x", input: {firstName: "A"}) { replayed '
     'customer { orders(first: 2) { edges { node { name } } } } } }',
     {}, 10 + 1 + 1 + (1 + 2 * 2)),
]


def price(query: str, variables: dict[str, Any] | None = None, schema: GraphQLSchema = SCHEMA,
          roles: frozenset[str] = frozenset()) -> Pricing:
    document = parse(query)
    assert validate(schema, document) == []
    operation = select_operation(document, None)
    assert operation is not None
    return check_operation(schema, document, operation, variables or {}, limits_for(SETTINGS.limits, roles), MODEL)


@pytest.mark.parametrize(("title", "query", "variables", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_static_cost_matches_the_hand_derived_figure(title: str, query: str, variables: dict[str, Any],
                                                     expected: int) -> None:
    schema = WITH_MUTATION if query.startswith("mutation") else SCHEMA
    pricing = price(query, variables, schema)
    assert pricing.errors == []
    assert pricing.cost == expected


def test_the_breakdown_says_where_the_points_are() -> None:
    pricing = price("{ customers(first: 50) { edges { node { email "
                    "orders(first: 5) { edges { node { name } } } } } } }")
    lines = {line["path"]: line for line in pricing.breakdown()}
    assert lines["customers"] == {"path": "customers", "coordinate": "Query.customers", "count": 1, "points": 651}
    assert lines["customers.edges.node.orders"]["count"] == 50
    assert lines["customers.edges.node.orders.edges.node"] == {
        "path": "customers.edges.node.orders.edges.node", "coordinate": "OrderEdge.node", "count": 250,
        "points": 250}
    assert "customers.edges.node.email" not in lines  # scalars cost nothing, so they are not listed


@pytest.mark.parametrize(("query", "expected"), [
    # Shopify: 50 customers' five orders fit one query's 1000 points (18 each); 20 orders each do not.
    ("{ customers(first: 50) { edges { node { email orders(first: 5) { edges { node { name } } } } } } }",
     {"hubspot": 1, "shopify": 1}),
    ("{ customers(first: 50) { edges { node { email orders(first: 20) { edges { node { name } } } } } } }",
     {"hubspot": 1, "shopify": 4}),
    ("{ orders(first: 50) { edges { node { name customer { email } } } } }", {"hubspot": 1, "shopify": 1}),
    ("{ customers(first: 100) { edges { node { totalSpent { amount } ordersCount emailMarketingStatus } } } }",
     {"hubspot": 1, "shopify": 1, "mailchimp": 100}),
    (f"{{ campaigns(first: 20) {{ edges {{ node {{ stats {{ clicks }} analytics(dateRange: {Q1}) {{ sessions }} "
     '} } } q2: campaigns(first: 5) { edges { node { analytics(dateRange: {startDate: "2026-04-01", '
     'endDate: "2026-06-30"}) { sessions } } } } }', {"mailchimp": 2 + 20, "googleads": 2 + 1, "ga4": 2}),
    # The page, its count, and the 100 orders' attribution in one more query.
    ("{ orders(first: 100) { totalCount edges { node { campaign { name } } } } }",
     {"shopify": 3, "mailchimp": 1, "googleads": 1}),
    ("{ orders(first: 50) { edges { node { lineItems { title } } } } }", {"shopify": 1 + 2}),
])
def test_upstream_calls_are_estimated_from_each_apis_batch_maxima(query: str, expected: dict[str, int]) -> None:
    calls = price(query).upstream_calls
    assert calls == {source: expected.get(source, 0) for source in ("hubspot", "shopify", "mailchimp", "ga4",
                                                                    "googleads")}


@pytest.mark.parametrize("options", [{}, {"descriptions": False},
                                     {"input_value_deprecation": True, "specified_by_url": True,
                                      "directive_is_repeatable": True, "schema_description": True}])
def test_the_standard_introspection_query_passes_the_default_limits_by_its_own_depth_and_price(
        options: dict[str, bool]) -> None:
    pricing = price(get_introspection_query(**options))
    assert pricing.errors == []
    assert pricing.plan is not None and pricing.plan.depth == 5  # __schema types fields args type (ofType free)
    assert 400 < pricing.cost < SETTINGS.limits.max_cost  # every returned object counted, nothing exempt


def test_introspection_is_limited_like_any_selection() -> None:
    of_type = "ofType { " * 12 + "name" + " }" * 12
    deep = price("{ __schema { types { fields { type { " + of_type + " } } } } }")
    assert [e.extensions["code"] for e in deep.errors if e.extensions] == ["DEPTH_LIMIT_EXCEEDED"]
    aliased = price("{ " + " ".join(f"s{i}: __schema {{ types {{ name }} }}" for i in range(16)) + " }")
    codes = [e.extensions["code"] for e in aliased.errors if e.extensions]
    assert codes[0] == "BAD_USER_INPUT"  # 16 aliases, whatever the field's name
    # About 580 objects each: ten of them cost more than the 5000 points an operation may.
    one = "__schema { types { fields { type { ofType { fields { type { ofType { name } } } } } } } }"
    many = price("{ " + " ".join(f"s{i}: {one}" for i in range(10)) + " }")
    assert [e.extensions["code"] for e in many.errors if e.extensions] == ["COST_LIMIT_EXCEEDED"]
