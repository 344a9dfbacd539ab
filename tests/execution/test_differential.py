"""The compiled executor answers exactly what graphql-core answers: same data, same errors.

Every query operation written in this test suite (found by reading the test modules), the GraphiQL
examples, the benchmark's workloads, and operations written here to reach the corners (aliases,
fragments, inline fragments on Node, @skip/@include with variables, defaults, __typename,
introspection, non-null propagation, forbidden and masked fields, bad arguments, bad variables,
a failing source) run through two gateways over the same simulators, one with
``execution.compiled: false`` (graphql-core), and must give identical JSON (``data`` and ``errors``,
errors in the same order). The response cache is off in both, so each one executes every time.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse, validate

from bench.run import WORKLOADS
from harmonia.http.examples import EXAMPLES
from harmonia.schema import build_schema
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorState
from tests.conftest import Gateway, open_gateway, token_for

TESTS = Path(__file__).resolve().parent.parent
ROLES = ("admin", "analyst", "support")
OFF = {"responses": False}

HARD: list[tuple[str, list[dict[str, Any]]]] = [
    ("""query Mixed($withOrders: Boolean = true, $skipPhone: Boolean!, $n: Int = 2) {
          a: customers(first: 3) { edges { cursor node { ...C __typename } } pageInfo { hasNextPage endCursor } }
          b: orders(first: 4) { totalCount edges { node { id name
             ... on Order { createdAt total: totalPrice { amount } }
             customer { email phone @skip(if: $skipPhone) first: firstName } campaign { name channel __typename }
             lineItems { title quantity price { amount currencyCode } } } } }
          __typename
        }
        fragment C on Customer { id email firstName phone lastName @include(if: true)
          orders(first: $n) @include(if: $withOrders) { edges { node { name __typename } } } }""",
     [{"skipPhone": True}, {"skipPhone": False, "withOrders": False, "n": 1}]),
    ("""query($id: ID!) { node(id: $id) { __typename id ... on Customer { email orders(first: 1) { edges {
          node { name } } } } ... on Order { name customer { email } } ... on Campaign { name channel } } }""",
     [{"id": "<customer>"}, {"id": "<order>"}, {"id": "<campaign>"}, {"id": "bm9wZQ"}]),
    # Order.customer is batched by the compiled executor: aliased twice, nested under a batch's own
    # answers (customer -> orders -> customer), and beside a per-object async field (campaign).
    ("""{ customers(first: 5) { edges { node { email orders(first: 2) { edges { node { name
          customer { email orders(first: 1) { edges { node { name customer { firstName } } } } }
          buyer: customer { phone lifecycleStage } campaign { name } } } } } } }
        orders(first: 6) { edges { node { ... on Order { customer { id } } customer { email } } } } }""", [{}]),
    ("""{ campaigns(first: 6) { totalCount pageInfo { hasNextPage } edges { node { id name channel status
          stats { clicks impressions emailsSent openRate ctr cost { amount } }
          analytics(dateRange: {startDate: "2026-01-01", endDate: "2026-03-31"}) { sessions totalUsers
            totalRevenue { amount } } } } } }""", [{}]),
    ('{ campaigns(first: 3) { edges { node { name stats(dateRange: {startDate: "2026-13-01", '
     'endDate: "2026-01-01"}) { clicks } } } } }', [{}]),
    ('{ customer(id: "nope") { email } order(id: "T3JkZXI6eA") { name } }', [{}]),
    ("query($n: Int!) { orders(first: $n) { edges { node { name } } } }", [{"n": 2}, {"n": "two"}, {}]),
    ("""query($r: DateRangeInput!, $d: [String!]!) { analytics(dateRange: $r, dimensions: $d,
          metrics: ["sessions", "totalRevenue"], limit: 5) { dimensionHeaders metricHeaders { name type }
          rows { dimensionValues metricValues metrics } rowCount } }""",
     [{"r": {"startDate": "2026-06-01", "endDate": "2026-06-30"}, "d": ["deviceCategory"]},
      {"r": {"startDate": "2026-06-30", "endDate": "2026-06-01"}, "d": ["deviceCategory"]}]),
    ('{ __typename __schema { queryType { name } types { name kind } } '
     '__type(name: "Customer") { name fields { name type { name kind ofType { name } } } } }', [{}]),
    ("query($e: String!) { customerByEmail(email: $e) { id email totalSpent { amount } ordersCount "
     "emailMarketingStatus createdAt lifecycleStage } }", [{"e": "<email>"}, {"e": "nobody@nowhere.example"}]),
]


def written_queries() -> Iterator[str]:
    """Every string literal in the test modules that is a valid query operation on the schema."""
    schema = build_schema()._schema
    seen: set[str] = set()
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or "{" not in node.value:
                continue
            text = node.value
            try:
                document = parse(text)
            except Exception:
                continue
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if any(volatile in text for volatile in ("fieldUsage", "sources(", "sources {", "schemaCheck")):
                continue  # each gateway's own history (operations, calls, latency), not the sources' data
            if (text in seen or not operations or validate(schema, document)
                    or any(o.operation is not OperationType.QUERY for o in operations)):
                continue
            seen.add(text)
            yield text


def variables_for(text: str, ids: dict[str, str]) -> list[dict[str, Any]]:
    """Values for the variables a written query declares (ids of the right type, a real email...)."""
    [operation] = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    variants: list[dict[str, Any]] = [{}]
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name == "id":
            kind = "order" if "order(" in text else "campaign" if "campaign(" in text else "customer"
            values: list[Any] = [ids[kind]]
        elif name == "email":
            values = [ids["email"]]
        elif name in ("n", "first"):
            values = [3]
        elif name == "after":
            values = [None, ids["cursor"]]
        elif name == "full":
            values = [True, False]
        else:
            values = [None]
        variants = [{**v, name: value} for v in variants for value in values if value is not None] + \
            ([{**v} for v in variants] if None in values else [])
    return variants


@pytest.fixture
async def pair(fast_sim_state: SimulatorState) -> AsyncIterator[tuple[Gateway, Gateway]]:
    compiled, close_compiled = await open_gateway(fast_sim_state, cache=dict(OFF))
    reference, close_reference = await open_gateway(fast_sim_state, cache=dict(OFF), execution={"compiled": False})
    assert compiled.app.state.pipeline.compiled is not None and reference.app.state.pipeline.compiled is None
    yield compiled, reference
    await close_compiled()
    await close_reference()


async def known_ids(gw: Gateway) -> dict[str, str]:
    body = await gw.query("{ customers(first: 2) { edges { cursor node { id email } } } "
                          "orders(first: 1) { edges { node { id } } } campaigns(first: 1) { edges { node { id } } } }")
    data = body["data"]
    return {"customer": data["customers"]["edges"][0]["node"]["id"],
            "email": data["customers"]["edges"][0]["node"]["email"],
            "cursor": data["customers"]["edges"][0]["cursor"],
            "order": data["orders"]["edges"][0]["node"]["id"],
            "campaign": data["campaigns"]["edges"][0]["node"]["id"]}


def substitute(variables: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    return {k: ids[v[1:-1]] if isinstance(v, str) and v.startswith("<") else v for k, v in variables.items()}


async def both(compiled: Gateway, reference: Gateway, query: str, variables: dict[str, Any] | None,
               role: str) -> tuple[dict[str, Any], dict[str, Any]]:
    token = token_for(role)
    answers = []
    for gw in (reference, compiled):
        response = await gw.post(query, variables, token=token)
        body = response.json()
        answers.append({"status": response.status_code, "data": body.get("data"), "errors": body.get("errors")})
    return answers[1], answers[0]


async def test_every_query_the_suite_writes_answers_the_same_through_both_executors(
    pair: tuple[Gateway, Gateway],
) -> None:
    compiled, reference = pair
    ids = await known_ids(reference)
    corpus = list(written_queries())
    assert len(corpus) > 50, "the suite's queries were not found"
    runs = 0
    for query in corpus:
        for variables in variables_for(query, ids):
            for role in ROLES:
                mine, theirs = await both(compiled, reference, query, variables, role)
                assert mine == theirs, (query, variables, role)
                runs += 1
    assert runs > 150


@pytest.mark.parametrize("index", range(len(HARD)))
async def test_the_corners_answer_the_same_through_both_executors(pair: tuple[Gateway, Gateway], index: int) -> None:
    compiled, reference = pair
    ids = await known_ids(reference)
    query, variants = HARD[index]
    for variables in variants:
        for role in (*ROLES, "marketer", "nobody"):
            mine, theirs = await both(compiled, reference, query, substitute(variables, ids), role)
            assert mine == theirs, (variables, role)


async def test_the_examples_and_the_benchmark_answer_the_same_through_both_executors(
    pair: tuple[Gateway, Gateway],
) -> None:
    compiled, reference = pair
    ids = await known_ids(reference)
    queries = [*EXAMPLES.values(), *(template % {"customer_id": ids["customer"]}
                                     for key, (_, template) in WORKLOADS.items() if key in "abcd")]
    for query in queries:
        for role in ROLES:
            mine, theirs = await both(compiled, reference, query, None, role)
            assert mine == theirs, (query, role)
            assert mine["data"] is not None or role != "admin"


async def test_a_failing_source_nulls_the_same_fields_with_the_same_errors(
    fast_sim_state: SimulatorState,
) -> None:
    # No entity cache: the orders must be asked of the failing Shopify, and fail, in both.
    compiled, close_compiled = await open_gateway(fast_sim_state, cache={"enabled": False},
                                                  sources={"shopify": {"max_retries": 0}})
    reference, close_reference = await open_gateway(fast_sim_state, cache={"enabled": False},
                                                    sources={"shopify": {"max_retries": 0}},
                                                    execution={"compiled": False})
    query = ("{ customers(first: 5) { edges { cursor node { email totalSpent { amount } "
             "orders(first: 2) { edges { node { name } } } } } } orders(first: 2) { edges { node { name } } } }")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_simulator_app(state=fast_sim_state)),
                                     base_url="http://sim") as sim:
            await sim.post("/__faults", json={"source": "shopify", "status": 503, "rate": 1.0, "seconds": 30})
        mine, theirs = await both(compiled, reference, query, None, "admin")
        assert theirs["errors"] and {e["extensions"]["code"] for e in theirs["errors"]} == {"UPSTREAM_UNAVAILABLE"}
        assert theirs["data"] is None  # Query.orders is non-null: its failure nulls the whole answer
        assert mine == theirs
    finally:
        await close_compiled()
        await close_reference()
