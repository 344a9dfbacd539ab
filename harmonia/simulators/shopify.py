"""Shopify GraphQL Admin API simulator: ``POST /admin/api/{version}/graphql.json``.

    POST /shopify/admin/api/2026-10/graphql.json      X-Shopify-Access-Token: shpat_demo_shopify_token
         {"query": "{ orders(first: 2, sortKey: ID) { nodes { id name } } }"}
    200  {"data": {...}, "extensions": {"cost": {"requestedQueryCost": 4, "actualQueryCost": 4,
          "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1996, "restoreRate": 100.0}}}}

A real GraphQL executor (graphql-core over ``shopify_schema``), so any client's query shape works.
Shopify's rules are kept: a bad token gets 401 with the REST body; the requested cost
(``shopify_cost``) must be in the bucket (``shopify_throttle``) or the answer is THROTTLED (HTTP 200
by default, 429 with ``shopify_throttle_status``), with no data; a query over 1000 points is
MAX_COST_EXCEEDED; the unused part of the requested cost is refunded. ``/__stats`` counts every call
under its route and, for Shopify, by operation and by GraphQL error code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import VariableValues, get_variable_values

from harmonia.simulators import shopify_queries, shopify_writes
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.shopify_cost import query_cost
from harmonia.simulators.shopify_graph import ShopView
from harmonia.simulators.shopify_schema import admin_schema
from harmonia.simulators.shopify_throttle import BUCKET_KEY, UNLIMITED, CostBucket

SOURCE = "shopify"
ROUTE = "/admin/api/{version}/graphql.json"
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
MAX_QUERY_COST = 1000
RATE_LIMITS_DOCS = "https://shopify.dev/api/usage/rate-limits"
ERRORS_KEY = "shopify_graphql_errors"
OPERATIONS_KEY = "shopify_operations"
_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")


def render_error(status: int, message: str) -> Response:
    return _json({"errors": message}, status)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def graph_schema(hidden: frozenset[str] = frozenset()) -> GraphQLSchema:
    return shopify_writes.attach(shopify_queries.attach(admin_schema(hidden)))


def bucket_of(state: SimulatorState) -> CostBucket:
    bucket: CostBucket | None = state.throttles.get(BUCKET_KEY)
    if bucket is None:
        config = state.config
        bucket = state.throttles[BUCKET_KEY] = CostBucket(config.shopify_maximum_available,
                                                          config.shopify_restore_rate)
    return bucket


def _cost(requested: int, actual: int | None, status: Mapping[str, Any]) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": dict(status)}}


class _Refused(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__("refused")
        self.status = status
        self.body = body


class AdminGraphQL:
    """One simulator state's GraphQL endpoint: parse, validate, price, throttle, execute, refund."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.schema = graph_schema(frozenset(state.config.shopify_hidden_fields))
        self.errors = state.counter(ERRORS_KEY)
        self.operations = state.counter(OPERATIONS_KEY)

    def answer(self, token: str, payload: Any, *, scopes: frozenset[str] | None = None) -> tuple[int, Any]:
        try:
            document, operation, variables = self._read(payload)
            requested = self._price(document, operation, variables)
            self._admit(token, requested)
        except _Refused as refused:
            return refused.status, refused.body
        shopify_writes.erase_due(self.state)
        view = ShopView.of(self.state, scopes)
        result: ExecutionResult = execute_sync(self.schema, document, variable_values=payload.get("variables") or {},
                                               operation_name=payload.get("operationName"), context_value=view)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        actual = self._scaled(query_cost(self.schema, operation, fragments, variables, data=result.data,
                                         measured=True))
        bucket = self._bucket()
        bucket.refund(token, requested - actual)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
            self.errors.update(str((e.extensions or {}).get("code", "ERROR")) for e in result.errors)
        body["data"] = result.data
        if self.state.config.shopify_report_cost:
            body["extensions"] = _cost(requested, actual, bucket.status(token))
        return 200, body

    def _scaled(self, cost: int) -> int:
        return round(cost * self.state.config.shopify_cost_factor)

    def _bucket(self) -> CostBucket:
        if not self.state.config.rate_limits:
            return CostBucket(UNLIMITED, UNLIMITED)
        return bucket_of(self.state)

    def _read(self, payload: Any) -> tuple[DocumentNode, OperationDefinitionNode, VariableValues]:
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise _Refused(400, {"errors": {"query": "Required parameter missing or invalid"}})
        document, problems = self._checked(payload["query"])
        if problems:
            raise _Refused(200, {"errors": problems})
        operation = get_operation_ast(document, payload.get("operationName"))
        if operation is None:
            raise _Refused(200, {"errors": [{"message": "An operation name is required"}]})
        self.operations[operation.name.value if operation.name else "anonymous"] += 1
        raw = payload.get("variables") or {}
        coerced = get_variable_values(self.schema, operation.variable_definitions or (),
                                      raw if isinstance(raw, dict) else {})
        if isinstance(coerced, list):
            raise _Refused(200, {"errors": [e.formatted for e in coerced]})
        return document, operation, coerced

    @lru_cache(maxsize=256)  # noqa: B019 - one endpoint per simulator state; clients repeat their documents
    def _checked(self, query: str) -> tuple[DocumentNode, list[Any]]:
        """The parsed document and its syntax or validation errors, once per distinct query text."""
        try:
            document = parse(query)
        except GraphQLSyntaxError as exc:
            return DocumentNode(definitions=()), [exc.formatted]
        return document, [e.formatted for e in validate(self.schema, document)]

    def _price(self, document: DocumentNode, operation: OperationDefinitionNode, variables: VariableValues) -> int:
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        try:
            requested = self._scaled(query_cost(self.schema, operation, fragments, variables))
        except GraphQLError as exc:
            raise _Refused(200, {"errors": [exc.formatted]}) from None
        if requested > MAX_QUERY_COST:
            self.errors["MAX_COST_EXCEEDED"] += 1
            message = (f"Query cost is {requested}, which exceeds the single query max cost limit "
                       f"({MAX_QUERY_COST}).\n\nSee {RATE_LIMITS_DOCS} for more information on how the cost of a "
                       "query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations "
                       "should be used instead.")
            raise _Refused(200, {"errors": [{"message": message, "extensions": {
                "code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST,
                "documentation": RATE_LIMITS_DOCS}}]})
        return requested

    def _admit(self, token: str, requested: int) -> None:
        """The requested cost taken from the bucket, or THROTTLED (with no data)."""
        bucket = self._bucket()
        if bucket.take(token, requested):
            return
        self.errors["THROTTLED"] += 1
        body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
                                                                   "documentation": RATE_LIMITS_DOCS}}],
                "extensions": _cost(requested, None, bucket.status(token))}
        if not self.state.config.shopify_report_cost:
            del body["extensions"]
        raise _Refused(self.state.config.shopify_throttle_status, body)


def build_router(state: SimulatorState) -> APIRouter:
    router = APIRouter(dependencies=[Depends(state.tracked(SOURCE))])
    endpoint = AdminGraphQL(state)
    state.extra_stats[SOURCE] = lambda: {"operations": dict(endpoint.operations),
                                         "graphql_errors": dict(endpoint.errors)}

    @router.post(ROUTE)
    async def graphql(version: str, request: Request) -> Response:
        if not _VERSION.match(version):
            return render_error(404, "Not Found")
        token = request.headers.get("X-Shopify-Access-Token")
        if token is None or token != state.config.credentials.get("shopify_token"):
            return render_error(401, AUTH_ERROR)
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        # A token the simulated OAuth endpoint issued carries its own scopes (token_gate.py); a pasted one
        # has the shop's configured scopes.
        issued = request.scope.get("harmonia.oauth")
        status, body = endpoint.answer(token, payload, scopes=frozenset(issued.scopes) if issued else None)
        return _json(body, status)

    return router


def configure_throttle(state: SimulatorState, values: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /__throttle`` for Shopify: change the bucket while the simulator runs (tests, demos)."""
    bucket = bucket_of(state)
    bucket.reconfigure(maximum=_number(values, "maximumAvailable"), restore_rate=_number(values, "restoreRate"),
                       available=_number(values, "currentlyAvailable"))
    if "throttleStatus" in values:
        status = int(values["throttleStatus"])
        if status not in (200, 429):
            raise ValueError("throttleStatus must be 200 or 429")
        state.config.shopify_throttle_status = status
    return {"maximumAvailable": bucket.maximum, "restoreRate": bucket.restore_rate,
            "throttleStatus": state.config.shopify_throttle_status}


def _number(values: Mapping[str, Any], name: str) -> float | None:
    if values.get(name) is None:
        return None
    number = float(values[name])
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number
