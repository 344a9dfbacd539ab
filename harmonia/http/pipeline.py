"""The GraphQL request pipeline, free of any web framework: params in, status + JSON body out.

    pipeline = GraphQLPipeline(schema, settings, sources, cache=cache, persisted=persisted)
    result = await pipeline.run(GraphQLParams(query="{ customers { edges { node { id } } } }"),
                                principal, method="POST")
    result.status, result.body, result.headers

Order of work: persisted-query lookup (APQ), shape checks, parse (cached, token-limited), validation
(cached), operation selection, limits and static cost (``harmonia.limits``), the access plan
(``harmonia.schema.authorize``: denied fields taken out; introspection sees the role's schema),
budget reservation, execution of the plan's document, the plan applied to the result (denied
fields null + FORBIDDEN, masks), actual cost and settlement, error masking. Everything before
execution answers with zero upstream calls. ``extensions: {"cost": {"preview": true}}`` prices an
operation without running it; ``{"cost": {"breakdown": true}}`` adds the per-field cost breakdown.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable
from contextlib import nullcontext
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.execution.values import get_variable_values

from harmonia.auth.admin import AdminPlane
from harmonia.auth.fingerprint import policy_fingerprint
from harmonia.auth.policy import FieldAccess
from harmonia.auth.policy_file import DEMO_POLICY
from harmonia.auth.principal import Principal
from harmonia.auth.store import PolicyStore
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
from harmonia.schema.access_plan import AccessPlan
from harmonia.schema.authorize import authorize
from harmonia.schema.dry_run import RecentOperations
from harmonia.schema.role_schema import RoleSchemas, introspects
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


class _LRU(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)


def error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


class GraphQLPipeline:
    def __init__(self, schema: GraphQLSchema, settings: Settings, sources: Sources, *,
                 cache: EntityCache | None = None, persisted: PersistedQueries | None = None,
                 writes: WriteServices | None = None, responses: ResponseCache | None = None,
                 policies: PolicyStore | None = None, admin: AdminPlane | None = None,
                 recent: RecentOperations | None = None) -> None:
        self.schema = schema
        self.settings = settings
        self.sources = sources
        self.cache = cache
        self.persisted = persisted or PersistedQueries(settings.persisted_queries)
        self.writes = writes
        self.responses = responses if responses is not None and responses.enabled else None
        self.meter = CostMeter.from_settings(schema, settings)
        self.compiled = CompiledExecutor(schema) if settings.execution.compiled else None
        self.policies = policies or PolicyStore(DEMO_POLICY)
        self.admin = admin
        self.recent = recent
        self._plans = _LRU(2048)
        self.role_schemas = RoleSchemas(schema)
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
        # The policy's admins may run any operation, safelisted or not.
        resolved = await self.persisted.resolve(params.query, params.extensions,
                                                privileged=bool(principal.roles & self.policies.current.admins))
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
        if operation.variable_definitions:
            # Coerced here, before pricing (a page size may be a variable) and before anything runs: a
            # value of the wrong type is the client's mistake, answered as such and never logged.
            coerced = get_variable_values(self.schema, operation.variable_definitions, variables or {},
                                          max_errors=10)
            if isinstance(coerced, list):
                return await self.refuse(request_error, principal, *(
                    error(e.message, "BAD_USER_INPUT", locations=_locations(e)) for e in coerced))

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

        await self.policies.start()  # once; later calls return at once
        access = self.policies.current.access_for(principal.roles, principal.scopes)
        plan = self._access_plan(query, operation_name, document, operation, access)
        schema = self.schema
        if introspects(operation):  # introspection shows this principal only what it may read
            visible = self.role_schemas.for_access(access)
            if visible is None:
                return await self.refuse(403 if strict_status else 200, principal, error(
                    "This token may read nothing, so there is no schema to show it", "FORBIDDEN"),
                    pricing=pricing)
            schema = visible
        elif self.recent is not None and operation.operation.value == "query" and not access.is_admin:
            # For the admins' dry runs (admins' own operations never change under a policy: not kept).
            self.recent.record(query, operation_name, principal)
        if plan.denied and self.settings.auth.reject_unauthorized:
            return await self.refuse(403 if strict_status else 200, principal, *plan.forbidden_errors(),
                                     pricing=pricing)

        state = await self.meter.reserve(principal, pricing.cost)
        if not state.allowed:
            wait = state.retry_after(pricing.cost)
            return self.reject(429, state, error(
                f"Cost budget exhausted: {pricing.cost} points needed, {max(0, int(state.available))} "
                f"available; retry in {wait} s", "THROTTLED", cost=pricing.cost, retryAfterSeconds=wait),
                pricing=pricing, headers={"Retry-After": str(wait)})

        # Whole answers are keyed by who may see what: the role set and scopes under this version of
        # the effective policy, so an admin's change is never answered from before it. What is kept is
        # what the client got (masks applied, denied fields null with their FORBIDDEN errors).
        answer_key = None
        if self.responses is not None and cacheable(pricing.plan):
            answer_key = self.responses.key(query, operation_name, variables,
                                            policy_fingerprint(principal, access.policy))
            if (hit := self.responses.get(answer_key)) is not None:  # a warm repeat: no execution at all
                state = await self.meter.settle(principal, pricing.cost, hit.actual_cost)
                answer: dict[str, Any] = {"errors": list(hit.errors)} if hit.errors else {}
                answer["data"] = hit.data
                answer["extensions"] = self.meter.extension(state, pricing.cost, hit.actual_cost,
                                                            pricing.upstream_calls, **extra)
                return PipelineResult(200, answer)

        ctx = RequestContext(self.sources, principal, self.settings, policy=access.policy, admin=self.admin,
                             cache=self.cache, writes=self.writes, idempotency_key=idempotency_key)
        responses = self.responses if answer_key is not None else None
        recording = responses.recording() if responses is not None else nullcontext()
        reads = None
        data: dict[str, Any] | None = {}
        errors: list[dict[str, Any]] = []
        if not plan.empty:  # every root field denied: nothing to run
            try:
                # One deadline for every upstream call of this operation, retries and pacing waits included.
                with recording as reads, operation_deadline(self.settings.upstream.operation_deadline):
                    outcome = self._execute(schema, plan, document, query, ctx, variables, operation_name)
                    # graphql-core answers synchronously when no resolver is async (introspection, __typename).
                    executed = await outcome if isawaitable(outcome) else outcome
            except Exception:
                await self.meter.settle(principal, pricing.cost, 0)  # nothing answered: nothing spent
                raise
            data, errors = executed.data, [self._format(e) for e in executed.errors or ()]
        # Denied fields back as null + FORBIDDEN, masks applied: this is what the client gets.
        data, denied = plan.apply(data)
        # Priced on what the client really gets (after plan.apply): a denied field, null, costs nothing,
        # and the plan's own additions (the typename it may inject) are gone. Nothing ran when the
        # whole operation was denied, so nothing is spent (not even a mutation's base cost).
        actual = 0 if plan.empty else actual_cost(pricing.plan, self.meter.model, data)
        if responses is not None and answer_key is not None and reads is not None \
                and not errors and not ctx.extensions:  # no execution errors, nothing stale
            responses.store(answer_key, data, actual, reads, errors=denied)
        state = await self.meter.settle(principal, pricing.cost, actual)
        body: dict[str, Any] = {}
        if errors or denied:
            body["errors"] = errors + denied
        body["data"] = data
        body["extensions"] = {**self.meter.extension(state, pricing.cost, actual, pricing.upstream_calls, **extra),
                              **ctx.extensions}
        return PipelineResult(200, body)

    def _execute(self, schema: GraphQLSchema, plan: AccessPlan, document: DocumentNode, query: str,
                 ctx: RequestContext, variables: dict[str, Any] | None,
                 operation_name: str | None) -> ExecutionResult | Awaitable[ExecutionResult]:
        """The plan's document: compiled when it can be, else graphql-core (resolver spans, role schemas)."""
        # The compiled plan has no resolver middleware (per-resolver spans need graphql-core's path), and
        # it is built on the full schema: introspection under a role's schema runs on graphql-core.
        if self.compiled is not None and schema is self.schema and not self.settings.observability.resolver_spans:
            # Compiled plans are kept per text and checked against the document's identity: an access
            # plan's rewritten document gets a text of its own, so roles that see one query differently
            # do not keep replacing each other's compiled plan.
            text = query if plan.document is document else f"{query}\n# access plan {id(plan.document)}"
            return self.compiled.execute(plan.document, text, ctx, variables, operation_name)
        return execute(schema, plan.document, context_value=ctx, variable_values=variables,
                       operation_name=operation_name, hide_suggestions=self.hide_suggestions,
                       middleware=resolver_middleware(self.settings.observability.resolver_spans))

    def _access_plan(self, query: str, operation_name: str | None, document: DocumentNode,
                     operation: OperationDefinitionNode, access: FieldAccess) -> AccessPlan:
        """Decided once per (document, operation, kind of principal, policy version), then reused."""
        key = (query, operation_name, access.roles, access.scopes, access.policy.version, id(access.policy))
        plan = self._plans.get_or(key)
        if plan is None:
            plan = authorize(self.schema, document, operation, access)
            self._plans.put(key, plan)
        assert isinstance(plan, AccessPlan)
        return plan

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
        elif original is None or isinstance(original, GraphQLError):
            # graphql-core's own input errors (an argument or variable it could not coerce), whichever
            # way a release wraps them: the client's input, not a failure of ours, and not logged.
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
