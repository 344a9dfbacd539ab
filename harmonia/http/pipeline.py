"""The GraphQL request pipeline, free of any web framework: params in, status + JSON body out.

    pipeline = GraphQLPipeline(schema, settings, sources, cache=cache, persisted=persisted)
    result = await pipeline.run(GraphQLParams(query="{ customers { edges { node { id } } } }"),
                                principal, method="POST")
    result.status, result.body, result.headers

Order of work: persisted-query lookup (APQ), shape checks, parse (cached, token-limited), validation
(cached), operation selection, limits and static cost (``harmonia.limits``), budget reservation,
execution, actual cost and settlement, error masking. Everything before execution answers with zero
upstream calls. ``extensions: {"cost": {"preview": true}}`` prices an operation without running it;
``{"cost": {"breakdown": true}}`` adds the per-field cost breakdown.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.error import GraphQLSyntaxError

from harmonia.auth.fingerprint import policy_fingerprint
from harmonia.auth.principal import Principal
from harmonia.cache.entity import EntityCache
from harmonia.cache.persisted import PersistedQueries
from harmonia.cache.responses import ResponseCache
from harmonia.errors import HarmoniaError
from harmonia.execution.compiled import CompiledExecutor
from harmonia.http.answers import cacheable
from harmonia.limits.actual import actual_cost
from harmonia.limits.budget import BucketState
from harmonia.limits.check import Pricing
from harmonia.limits.meter import CostMeter, CostOptions
from harmonia.limits.plan import select_operation
from harmonia.observability.operation import note_operation
from harmonia.observability.resolver_spans import resolver_middleware
from harmonia.resolvers.context import RequestContext, Sources
from harmonia.resolvers.write_services import WriteServices
from harmonia.settings import Settings
from harmonia.sources.deadline import operation_deadline

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
                 writes: WriteServices | None = None, responses: ResponseCache | None = None) -> None:
        self.schema = schema
        self.settings = settings
        self.sources = sources
        self.cache = cache
        self.persisted = persisted or PersistedQueries(settings.persisted_queries)
        self.writes = writes
        self.responses = responses if responses is not None and responses.enabled else None
        self.meter = CostMeter.from_settings(schema, settings)
        self.compiled = CompiledExecutor(schema) if settings.execution.compiled else None
        self._documents = _LRU(1024)
        self._validated = _LRU(1024)
        # Outside development, "Did you mean ...?" would map the schema for anyone probing it.
        self.hide_suggestions = not settings.dev_mode
        self.rules = list(specified_rules)
        if not settings.http.introspection:
            self.rules.append(NoSchemaIntrospectionCustomRule)

    def reject(self, status: int, state: BucketState | None, *errors: dict[str, Any],
               pricing: Pricing | None = None, headers: dict[str, str] | None = None) -> PipelineResult:
        """An answer with errors and no execution; ``state`` None: no client (a full default bucket)."""
        extension = self.meter.extension(state or self.meter.idle_state(), pricing.cost if pricing else 0, 0,
                                         pricing.upstream_calls if pricing else None)
        return PipelineResult(status, {"errors": list(errors), "extensions": extension}, headers or {})

    async def refuse(self, status: int, principal: Principal, *errors: dict[str, Any],
                     pricing: Pricing | None = None, headers: dict[str, str] | None = None) -> PipelineResult:
        """``reject`` for a known client: its bucket as it stands."""
        return self.reject(status, await self.meter.status(principal), *errors, pricing=pricing, headers=headers)

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
            return await self.refuse(status, principal, error(p.message, p.code, **p.extensions))
        query, variables, operation_name = resolved.query, params.variables, params.operation_name
        if not isinstance(query, str) or not query.strip():
            return await self.refuse(400, principal, error("A `query` string is required", "BAD_USER_INPUT"))
        if variables is not None and not isinstance(variables, dict):
            return await self.refuse(400, principal, error("`variables` must be a JSON object", "BAD_USER_INPUT"))
        if operation_name is not None and not isinstance(operation_name, str):
            return await self.refuse(400, principal, error("`operationName` must be a string", "BAD_USER_INPUT"))
        if params.extensions is not None and not isinstance(params.extensions, dict):
            return await self.refuse(400, principal, error("`extensions` must be a JSON object", "BAD_USER_INPUT"))

        max_tokens = self.meter.limits(principal).max_tokens
        key = f"{max_tokens}:{query}"  # a document parsed under one role's token limit is not another's
        document = self._documents.get_or(key)
        if document is None:
            try:
                document = parse(query, max_tokens=max_tokens)
            except GraphQLSyntaxError as exc:
                if "tokens" in exc.message and "more than" in exc.message:
                    return await self.refuse(request_error, principal, error(
                        f"The operation has more than {max_tokens} tokens", "BAD_USER_INPUT", limit=max_tokens))
                # 400 for graphql-response+json; 200 for application/json, as GraphQL over HTTP asks.
                return await self.refuse(request_error, principal, error(exc.message, "GRAPHQL_PARSE_FAILED",
                                                                         locations=_locations(exc)))
            self._documents.put(key, document)
        assert isinstance(document, DocumentNode)

        problems = self._validated.get_or(query)
        if problems is None:
            problems = [e.message for e in validate(self.schema, document, self.rules,
                                                    hide_suggestions=self.hide_suggestions)]
            self._validated.put(query, problems)
        if problems:
            return await self.refuse(request_error, principal,
                                     *(error(m, "GRAPHQL_VALIDATION_FAILED") for m in problems))

        operation = select_operation(document, operation_name)
        if operation is None:
            message = (f"No operation named {operation_name!r}" if operation_name
                       else "The document has several operations: name one in `operationName`")
            return await self.refuse(request_error, principal, error(message, "BAD_USER_INPUT"))
        if method == "GET" and operation.operation.value != "query":
            return await self.refuse(405, principal, error("Only queries may be sent with GET; use POST",
                                                           "BAD_USER_INPUT"), headers={"Allow": "POST"})

        options = CostOptions.of(params.extensions)
        note_operation(self.schema, document, operation)  # span name, log line, field usage
        pricing = self.meter.check(document, operation, variables or {}, principal, query)
        extra: dict[str, Any] = {"breakdown": pricing.breakdown()} if options.breakdown else {}
        if pricing.errors:
            result = await self.refuse(request_error, principal, *(_limit_error(e) for e in pricing.errors),
                                       pricing=pricing)
            result.body["extensions"]["cost"].update(extra)
            return result
        if options.preview:
            state = await self.meter.status(principal)
            return PipelineResult(200, {"extensions": self.meter.extension(
                state, pricing.cost, 0, pricing.upstream_calls, preview=True,
                throttled=state.available < pricing.cost, **extra)})

        state = await self.meter.reserve(principal, pricing.cost)
        if not state.allowed:
            wait = state.retry_after(pricing.cost)
            return self.reject(429, state, error(
                f"Cost budget exhausted: {pricing.cost} points needed, {max(0, int(state.available))} "
                f"available; retry in {wait} s", "THROTTLED", cost=pricing.cost, retryAfterSeconds=wait),
                pricing=pricing, headers={"Retry-After": str(wait)})

        answer_key = None
        if self.responses is not None and cacheable(pricing.plan):
            answer_key = self.responses.key(query, operation_name, variables, policy_fingerprint(principal))
            if (hit := self.responses.get(answer_key)) is not None:  # a warm repeat: no execution at all
                state = await self.meter.settle(principal, pricing.cost, hit.actual_cost)
                return PipelineResult(200, {"data": hit.data, "extensions": self.meter.extension(
                    state, pricing.cost, hit.actual_cost, pricing.upstream_calls, **extra)})

        ctx = RequestContext(self.sources, principal, self.settings, cache=self.cache, writes=self.writes,
                             idempotency_key=idempotency_key)
        responses = self.responses if answer_key is not None else None
        recording = responses.recording() if responses is not None else nullcontext()
        try:
            # One deadline for every upstream call of this operation, retries and pacing waits included.
            with recording as reads, operation_deadline(self.settings.upstream.operation_deadline):
                # The compiled plan has no resolver middleware: per-resolver spans need graphql-core's path.
                if self.compiled is not None and not self.settings.observability.resolver_spans:
                    outcome = self.compiled.execute(document, query, ctx, variables, operation_name)
                else:
                    outcome = execute(self.schema, document, context_value=ctx, variable_values=variables,
                                      operation_name=operation_name, hide_suggestions=self.hide_suggestions,
                                      middleware=resolver_middleware(self.settings.observability.resolver_spans))
                # graphql-core answers synchronously when no resolver is async (introspection, __typename).
                executed = await outcome if isawaitable(outcome) else outcome
        except Exception:
            await self.meter.settle(principal, pricing.cost, 0)  # nothing answered: nothing spent
            raise
        actual = actual_cost(pricing.plan, self.meter.model, executed.data)
        if responses is not None and answer_key is not None and reads is not None \
                and not executed.errors and not ctx.extensions:  # no errors, nothing stale
            responses.store(answer_key, executed.data, actual, reads)
        state = await self.meter.settle(principal, pricing.cost, actual)
        body: dict[str, Any] = {}
        if executed.errors:
            body["errors"] = [self._format(e) for e in executed.errors]
        body["data"] = executed.data
        body["extensions"] = {**self.meter.extension(state, pricing.cost, actual, pricing.upstream_calls, **extra),
                              **ctx.extensions}
        status = 200
        if executed.data is None and executed.errors and all(e.original_error is None for e in executed.errors):
            status = request_error  # variable coercion failed: a request error, nothing ran
        return PipelineResult(status, body)

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


def _limit_error(exc: GraphQLError) -> dict[str, Any]:
    extensions = dict(exc.extensions or {})
    return error(exc.message, str(extensions.pop("code", "BAD_USER_INPUT")), **extensions)


def _locations(exc: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in exc.locations or ()]
