"""The GraphQL request pipeline, free of any web framework: params in, status + JSON body out.

    pipeline = GraphQLPipeline(schema, settings, sources, cache=cache, persisted=persisted)
    result = await pipeline.run(GraphQLParams(query="{ customers { edges { node { id } } } }"),
                                principal, method="POST")
    result.status, result.body, result.headers

Order of work: persisted-query lookup (APQ), shape checks, parse (cached, token-limited), validation (cached), operation
selection, limits and static cost, budget reservation, execution, error masking. Everything
before execution answers with zero upstream calls.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, execute, parse, validate
from graphql.error import GraphQLSyntaxError

from harmonia.auth.principal import Principal
from harmonia.cache.entity import EntityCache
from harmonia.cache.persisted import PersistedQueries
from harmonia.errors import HarmoniaError
from harmonia.limits.analysis import Analysis, analyze, select_operation
from harmonia.limits.budget import CostBudget
from harmonia.observability.operation import note_operation
from harmonia.observability.resolver_spans import resolver_middleware
from harmonia.resolvers.context import RequestContext, Sources
from harmonia.resolvers.write_services import WriteServices
from harmonia.settings import Settings

log = logging.getLogger("harmonia.graphql")


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    query: Any = None
    variables: Any = None
    operation_name: Any = None
    extensions: Any = None


@dataclass(slots=True)
class PipelineResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _LRU(OrderedDict[str, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or(self, key: str) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)


def error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


class GraphQLPipeline:
    def __init__(self, schema: GraphQLSchema, settings: Settings, sources: Sources, *,
                 cache: EntityCache | None = None, persisted: PersistedQueries | None = None,
                 writes: WriteServices | None = None) -> None:
        self.schema = schema
        self.settings = settings
        self.sources = sources
        self.cache = cache
        self.persisted = persisted or PersistedQueries(settings.persisted_queries)
        self.writes = writes
        self.limits = settings.limits
        self.budget = CostBudget(settings.limits.budget_maximum, settings.limits.budget_restore_rate)
        self._documents = _LRU(1024)
        self._validated = _LRU(1024)

    def cost_extension(self, principal: Principal | None, requested: int = 0, actual: int = 0) -> dict[str, Any]:
        available = self.budget.available(principal.sub) if principal else self.limits.budget_maximum
        return {"cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.limits.budget_maximum,
                "currentlyAvailable": math.floor(available),
                "restoreRate": self.limits.budget_restore_rate,
            },
        }}

    def reject(self, status: int, principal: Principal | None, *errors: dict[str, Any],
               requested: int = 0, headers: dict[str, str] | None = None) -> PipelineResult:
        return PipelineResult(status, {"errors": list(errors),
                                       "extensions": self.cost_extension(principal, requested)}, headers or {})

    async def run(self, params: GraphQLParams, principal: Principal, *, method: str = "POST",
                  strict_status: bool = True, idempotency_key: str | None = None) -> PipelineResult:
        """``strict_status``: the client accepts application/graphql-response+json (4xx for request errors).
        ``idempotency_key``: the request's Idempotency-Key header, for its mutations."""
        request_error = 400 if strict_status else 200
        resolved = await self.persisted.resolve(params.query, params.extensions,
                                                privileged="admin" in principal.roles)
        if resolved.problem is not None:
            p = resolved.problem
            status = p.status if strict_status or p.status != 400 else request_error
            return self.reject(status, principal, error(p.message, p.code, **p.extensions))
        query, variables, operation_name = resolved.query, params.variables, params.operation_name
        if not isinstance(query, str) or not query.strip():
            return self.reject(400, principal, error("A `query` string is required", "BAD_USER_INPUT"))
        if variables is not None and not isinstance(variables, dict):
            return self.reject(400, principal, error("`variables` must be a JSON object", "BAD_USER_INPUT"))
        if operation_name is not None and not isinstance(operation_name, str):
            return self.reject(400, principal, error("`operationName` must be a string", "BAD_USER_INPUT"))

        document = self._documents.get_or(query)
        if document is None:
            try:
                document = parse(query, max_tokens=self.limits.max_tokens)
            except GraphQLSyntaxError as exc:
                if "tokens" in exc.message and "more than" in exc.message:
                    return self.reject(request_error, principal, error(
                        f"The operation has more than {self.limits.max_tokens} tokens", "BAD_USER_INPUT",
                        limit=self.limits.max_tokens))
                return self.reject(400, principal, error(exc.message, "GRAPHQL_PARSE_FAILED",
                                                         locations=_locations(exc)))
            self._documents.put(query, document)
        assert isinstance(document, DocumentNode)

        problems = self._validated.get_or(query)
        if problems is None:
            problems = [e.message for e in validate(self.schema, document)]
            self._validated.put(query, problems)
        if problems:
            return self.reject(request_error, principal,
                               *(error(m, "GRAPHQL_VALIDATION_FAILED") for m in problems))

        operation = select_operation(document, operation_name)
        if operation is None:
            message = (f"No operation named {operation_name!r}" if operation_name
                       else "The document has several operations: name one in `operationName`")
            return self.reject(request_error, principal, error(message, "BAD_USER_INPUT"))
        if method == "GET" and operation.operation.value != "query":
            return self.reject(405, principal, error("Only queries may be sent with GET; use POST",
                                                     "BAD_USER_INPUT"), headers={"Allow": "POST"})

        analysis = analyze(document, operation, variables or {})
        note_operation(self.schema, document, operation)  # span name, log line, field usage
        rejected = self._check_limits(analysis, principal, request_error)
        if rejected is not None:
            return rejected
        ok, available = self.budget.take(principal.sub, analysis.cost)
        if not ok:
            wait = math.ceil(self.budget.seconds_until(principal.sub, analysis.cost))
            return self.reject(429, principal, error(
                f"Cost budget exhausted: {analysis.cost} points needed, {math.floor(available)} available",
                "THROTTLED", retryAfterSeconds=wait), requested=analysis.cost, headers={"Retry-After": str(wait)})

        ctx = RequestContext(self.sources, principal, self.settings, cache=self.cache, writes=self.writes,
                             idempotency_key=idempotency_key)
        outcome = execute(self.schema, document, context_value=ctx, variable_values=variables,
                          operation_name=operation_name,
                          middleware=resolver_middleware(self.settings.observability.resolver_spans))
        # graphql-core answers synchronously when no resolver is async (introspection, __typename).
        result = await outcome if isawaitable(outcome) else outcome
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [self._format(e) for e in result.errors]
        body["data"] = result.data
        body["extensions"] = {**self.cost_extension(principal, analysis.cost, analysis.cost), **ctx.extensions}
        status = 200
        if result.data is None and result.errors and all(e.original_error is None for e in result.errors):
            status = request_error  # variable coercion failed: a request error, nothing ran
        return PipelineResult(status, body)

    def _check_limits(self, analysis: Analysis, principal: Principal, status: int) -> PipelineResult | None:
        lim = self.limits
        if analysis.depth > lim.max_depth:
            return self.reject(status, principal, error(
                f"The operation is {analysis.depth} levels deep; at most {lim.max_depth} are allowed",
                "DEPTH_LIMIT_EXCEEDED", depth=analysis.depth, limit=lim.max_depth), requested=analysis.cost)
        if analysis.aliases > lim.max_aliases:
            return self.reject(status, principal, error(
                f"The operation uses {analysis.aliases} aliases; at most {lim.max_aliases} are allowed",
                "BAD_USER_INPUT", aliases=analysis.aliases, limit=lim.max_aliases), requested=analysis.cost)
        if analysis.root_fields > lim.max_root_fields:
            return self.reject(status, principal, error(
                f"The operation selects {analysis.root_fields} root fields; at most {lim.max_root_fields}",
                "BAD_USER_INPUT", rootFields=analysis.root_fields, limit=lim.max_root_fields),
                requested=analysis.cost)
        if analysis.cost > lim.max_cost:
            return self.reject(status, principal, error(
                f"The operation costs {analysis.cost} points; at most {lim.max_cost} are allowed",
                "COST_LIMIT_EXCEEDED", cost=analysis.cost, limit=lim.max_cost), requested=analysis.cost)
        return None

    def _format(self, exc: GraphQLError) -> dict[str, Any]:
        formatted: dict[str, Any] = {"message": exc.message}
        if exc.locations:
            formatted["locations"] = _locations(exc)
        if exc.path is not None:
            formatted["path"] = exc.path
        original = exc.original_error
        if isinstance(original, HarmoniaError):
            formatted["message"] = original.message
            formatted["extensions"] = {"code": original.code, **original.extensions}
        elif original is None:
            formatted["extensions"] = {"code": "BAD_USER_INPUT"}
        else:
            log.error("unexpected error in a resolver", exc_info=original)
            formatted["message"] = "Internal server error"
            formatted["extensions"] = {"code": "INTERNAL"}
        return formatted


def _locations(exc: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in exc.locations or ()]
