"""The GraphQL request pipeline, free of any web framework: params in, status + JSON body out.

    pipeline = GraphQLPipeline(schema, settings, sources, cache=cache, persisted=persisted)
    result = await pipeline.run(GraphQLParams(query="{ customers { edges { node { id } } } }"),
                                principal, method="POST")
    result.status, result.body, result.headers

``run`` is a sequence of named steps over one ``Request``; each fills in what the next ones need or
answers (a refusal, a cached answer, the executed answer), which ends the run. A step that needs no
I/O to go on returns None at once; only what waits (Redis, a refusal's bucket, execution) is awaited,
so a warm answer pays for no coroutine it does not need:

 1. ``persisted_query``   APQ and the safelist: the text to run, and a hash to register once it passes
 2. ``request_shape``     query, variables, operationName and extensions of the right JSON types
 3. ``parse_document``    parsed under the principal's token limit (cached)
 4. ``role_view``         the principal's own schemas: what it may ask for, what it may read
 5. ``validate_document`` against what it may read, else what it may ask for; errors and suggestions
                          only ever from what it may read (cached)
 6. ``choose_operation``  by operationName; GET runs queries only
 7. ``coerce_variables``  before pricing (a page size may be a variable)
 8. ``price``             limits and static cost (``harmonia.limits``); a cost preview answers here
 9. ``register_persisted`` the APQ text stored now that it has passed, within the client's budget
10. ``authorize``         the access plan: denied fields taken out, lookups checked, masks planned;
                          introspection anywhere in the operation runs on the principal's own schema
11. ``reserve_budget``    the client's cost budget
12. ``cached_answer``     a whole answer kept for the same operation, variables and policy fingerprint
13. ``execute``           the plan's document, the plan applied (null + FORBIDDEN, masks), actual cost,
                          settlement, the answer kept for next time

Everything before ``execute`` answers with zero upstream calls. ``extensions: {"cost": {"preview":
true}}`` prices an operation without running it; ``{"cost": {"breakdown": true}}`` adds the per-field
cost breakdown.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable
from contextlib import nullcontext
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
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
from harmonia.cache.responses import CachedAnswer, ResponseCache
from harmonia.execution.compiled import CompiledExecutor
from harmonia.http.answers import cacheable
from harmonia.http.error_body import error, execution_error, limit_error, locations
from harmonia.http.request import GraphQLParams, Outcome, PipelineResult, Request, Step
from harmonia.limits.actual import actual_cost
from harmonia.limits.budget import Bucket, BucketState
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
from harmonia.schema.role_schema import RoleSchemas
from harmonia.schema.role_validation import validation_messages, variable_message
from harmonia.settings import Settings
from harmonia.sources.deadline import operation_deadline

__all__ = ["GraphQLParams", "GraphQLPipeline", "PipelineResult", "error"]  # what routes.py takes from here


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
        self._documents = _LRU(1024)
        self._validated = _LRU(1024)
        # Outside development, "Did you mean ...?" would map the schema for anyone probing it.
        self.hide_suggestions = not settings.dev_mode
        self.rules = list(specified_rules)
        if not settings.http.introspection:
            self.rules.append(NoSchemaIntrospectionCustomRule)
        self.role_schemas = RoleSchemas(schema)
        registrations = settings.persisted_queries.registrations_per_hour
        self.registrations = Bucket(registrations, registrations / 3600)
        self.steps: tuple[Step, ...] = (
            self.persisted_query, self.request_shape, self.parse_document, self.role_view, self.validate_document,
            self.choose_operation, self.coerce_variables, self.price, self.register_persisted, self.authorize,
            self.reserve_budget, self.cached_answer, self.execute)

    async def run(self, params: GraphQLParams, principal: Principal, *, method: str = "POST",
                  strict_status: bool = True, idempotency_key: str | None = None) -> PipelineResult:
        """``strict_status``: the client accepts application/graphql-response+json (4xx for request errors).
        ``idempotency_key``: the request's Idempotency-Key header, for its mutations."""
        request = Request(params, principal, method, strict_status, idempotency_key)
        for step in self.steps:
            answer = step(request)
            if answer is None:
                continue
            if not isinstance(answer, PipelineResult):
                answer = await answer
                if answer is None:
                    continue
            return answer
        raise AssertionError("the execute step always answers")

    # --- answers without execution ------------------------------------------------------------

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

    # --- the steps, in order ------------------------------------------------------------------

    def persisted_query(self, r: Request) -> Outcome:
        if not self.persisted.involved(r.params.extensions):
            r.text = r.params.query
            return None
        return self._persisted_query(r)

    async def _persisted_query(self, r: Request) -> PipelineResult | None:
        # The policy's admins may run any operation, safelisted or not.
        admin = bool(r.principal.roles & self.policies.current.admins)
        resolved = await self.persisted.resolve(r.params.query, r.params.extensions, privileged=admin)
        if resolved.problem is not None:
            p = resolved.problem
            status = p.status if r.strict_status or p.status != 400 else r.request_error
            return await self.refuse(status, r.principal, error(p.message, p.code, **p.extensions))
        r.text, r.register = resolved.query, resolved.register
        return None

    def request_shape(self, r: Request) -> Outcome:
        params = r.params
        problem = None
        if not isinstance(r.text, str) or not r.text.strip():
            problem = "A `query` string is required"
        elif params.variables is not None and not isinstance(params.variables, dict):
            problem = "`variables` must be a JSON object"
        elif params.operation_name is not None and not isinstance(params.operation_name, str):
            problem = "`operationName` must be a string"
        elif params.extensions is not None and not isinstance(params.extensions, dict):
            problem = "`extensions` must be a JSON object"
        if problem is not None:
            return self.refuse(400, r.principal, error(problem, "BAD_USER_INPUT"))
        r.query, r.variables, r.operation_name = r.text, params.variables, params.operation_name
        return None

    def parse_document(self, r: Request) -> Outcome:
        max_tokens = self.meter.limits(r.principal).max_tokens
        key = f"{max_tokens}:{r.query}"  # a document parsed under one role's token limit is not another's
        document = self._documents.get_or(key)
        if document is None:
            try:
                document = parse(r.query, max_tokens=max_tokens)
            except GraphQLSyntaxError as exc:
                if "tokens" in exc.message and "more than" in exc.message:
                    return self.refuse(r.request_error, r.principal, error(
                        f"The operation has more than {max_tokens} tokens", "BAD_USER_INPUT", limit=max_tokens))
                return self.refuse(r.request_error, r.principal, error(
                    exc.message, "GRAPHQL_PARSE_FAILED", locations=locations(exc)))
            self._documents.put(key, document)
        r.document = document
        return None

    def role_view(self, r: Request) -> Outcome:
        if not self.policies.started:
            return self._start_policies(r)
        r.access = self.policies.current.access_for(r.principal.roles, r.principal.scopes)
        r.view = self.role_schemas.view(r.access)
        return None

    async def _start_policies(self, r: Request) -> PipelineResult | None:
        await self.policies.start()  # once: the app's lifespan usually has
        return self.role_view(r)  # type: ignore[return-value]  # started now: never awaitable

    def validate_document(self, r: Request) -> Outcome:
        assert r.view is not None and r.document is not None
        key = (r.view, r.query)  # each view is its own schema (and keeps its place in the key alive)
        problems = self._validated.get_or(key)
        if problems is None:
            problems = validation_messages(r.view, r.document, self.rules, hide_suggestions=self.hide_suggestions)
            self._validated.put(key, problems)
        if problems:
            return self.refuse(r.request_error, r.principal, *(error(m, "GRAPHQL_VALIDATION_FAILED") for m in problems))
        return None

    def choose_operation(self, r: Request) -> Outcome:
        assert r.document is not None
        operation = select_operation(r.document, r.operation_name)
        if operation is None:
            message = (f"No operation named {r.operation_name!r}" if r.operation_name
                       else "The document has several operations: name one in `operationName`")
            return self.refuse(r.request_error, r.principal, error(message, "BAD_USER_INPUT"))
        if r.method == "GET" and operation.operation.value != "query":
            return self.refuse(405, r.principal, error("Only queries may be sent with GET; use POST", "BAD_USER_INPUT"),
                               headers={"Allow": "POST"})
        r.operation = operation
        return None

    def coerce_variables(self, r: Request) -> Outcome:
        assert r.operation is not None
        if r.operation.variable_definitions:
            # A value of the wrong type is the client's mistake, answered as such and never logged.
            coerced = get_variable_values(self.schema, r.operation.variable_definitions, r.variables or {},
                                          max_errors=10, hide_suggestions=self.hide_suggestions)
            if isinstance(coerced, list):
                assert r.view is not None
                told = {variable_message(e, r.view): e for e in coerced}  # one line per thing it may be told
                return self.refuse(r.request_error, r.principal, *(
                    error(message, "BAD_USER_INPUT", locations=locations(e)) for message, e in told.items()))
        return None

    def price(self, r: Request) -> Outcome:
        assert r.document is not None and r.operation is not None
        r.options = CostOptions.of(r.params.extensions)
        note_operation(self.schema, r.document, r.operation)  # span name, log line, field usage
        assert r.view is not None  # introspection is priced on what it will show: the caller's own schema
        pricing = r.pricing = self.meter.check(r.document, r.operation, r.variables or {}, r.principal, r.query,
                                               r.view.readable or r.view.valid)
        if r.options.breakdown:
            r.extra = {"breakdown": pricing.breakdown()}
        if pricing.errors or r.options.preview:
            return self._priced_only(r, pricing)
        return None

    async def _priced_only(self, r: Request, pricing: Pricing) -> PipelineResult:
        """Over the limits (refused), or a preview: the price, and nothing run."""
        if pricing.errors:
            result = await self.refuse(r.request_error, r.principal, *(limit_error(e) for e in pricing.errors),
                                       pricing=pricing)
            result.body["extensions"]["cost"].update(r.extra)
            return result
        state = await self.meter.status(r.principal)
        return PipelineResult(200, {"extensions": self.meter.extension(
            state, pricing.cost, 0, pricing.upstream_calls, preview=True,
            throttled=state.available < pricing.cost, **r.extra)})

    def register_persisted(self, r: Request) -> Outcome:
        return None if r.register is None else self._register(r, r.register)

    async def _register(self, r: Request, sha: str) -> None:
        # Parsed, validated for this caller and within the limits: now it may be kept, if small enough
        # and within the client's registration budget. Either way it runs: the client sent it whole.
        why_not = self.persisted.too_large(r.query)
        if why_not is None and not await self._may_register(r.principal):
            why_not = (f"this client registered {self.registrations.maximum:g} operations within the hour; "
                       "send the text with the hash for now")
        if why_not is None:
            await self.persisted.put(sha, r.query)
        else:
            r.notes = {"persistedQuery": {"stored": False, "reason": why_not}}

    async def _may_register(self, principal: Principal) -> bool:
        if self.registrations.maximum <= 0:
            return False
        state = await self.meter.budget.reserve(f"persisted-queries|{principal.sub}", 1, self.registrations)
        return state.allowed

    def authorize(self, r: Request) -> Outcome:
        assert r.document is not None and r.operation is not None and r.access is not None and r.view is not None
        plan = r.plan = self._access_plan(r.query, r.operation_name, r.document, r.operation, r.access)
        r.schema = self.schema
        if plan.introspects:  # wherever it asks (fragments, aliases): only what this principal may read
            if r.view.readable is None:
                return self.refuse(403 if r.strict_status else 200, r.principal, error(
                    "This token may read nothing, so there is no schema to show it", "FORBIDDEN"), pricing=r.pricing)
            r.schema = r.view.readable
        elif self.recent is not None and r.operation.operation.value == "query" and not r.access.is_admin:
            # For the admins' dry runs (admins' own operations never change under a policy: not kept).
            self.recent.record(r.query, r.operation_name, r.principal)
        if plan.denied and self.settings.auth.reject_unauthorized:
            return self.refuse(403 if r.strict_status else 200, r.principal, *plan.forbidden_errors(),
                               pricing=r.pricing)
        return None

    async def reserve_budget(self, r: Request) -> PipelineResult | None:
        assert r.pricing is not None
        cost = r.pricing.cost
        state = await self.meter.reserve(r.principal, cost)
        if state.allowed:
            return None
        wait = state.retry_after(cost)
        return self.reject(429, state, error(
            f"Cost budget exhausted: {cost} points needed, {max(0, int(state.available))} "
            f"available; retry in {wait} s", "THROTTLED", cost=cost, retryAfterSeconds=wait),
            pricing=r.pricing, headers={"Retry-After": str(wait)})

    def cached_answer(self, r: Request) -> Outcome:
        # Whole answers are keyed by who may see what: the role set and scopes under this version of
        # the effective policy, so an admin's change is never answered from before it. What is kept is
        # what the client got (masks applied, denied fields null with their FORBIDDEN errors).
        assert r.pricing is not None and r.access is not None
        if self.responses is None or not cacheable(r.pricing.plan):
            return None
        r.answer_key = key = self.responses.key(r.query, r.operation_name, r.variables,
                                                          policy_fingerprint(r.principal, r.access.policy))
        hit = self.responses.get(key)
        return None if hit is None else self._answer_from(r, hit)

    async def _answer_from(self, r: Request, hit: CachedAnswer) -> PipelineResult:
        """A warm repeat: no execution at all."""
        assert r.pricing is not None
        state = await self.meter.settle(r.principal, r.pricing.cost, hit.actual_cost)
        answer: dict[str, Any] = {"errors": list(hit.errors)} if hit.errors else {}
        answer["data"] = hit.data
        answer["extensions"] = {**self.meter.extension(state, r.pricing.cost, hit.actual_cost,
                                                       r.pricing.upstream_calls, **r.extra), **(r.notes or {})}
        return PipelineResult(200, answer)

    async def execute(self, r: Request) -> PipelineResult | None:
        assert r.pricing is not None and r.plan is not None and r.access is not None and r.schema is not None
        pricing, plan = r.pricing, r.plan
        ctx = RequestContext(self.sources, r.principal, self.settings, policy=r.access.policy, admin=self.admin,
                             cache=self.cache, writes=self.writes, idempotency_key=r.idempotency_key)
        answer_key = r.answer_key
        responses = self.responses if answer_key is not None else None
        recording = responses.recording() if responses is not None else nullcontext()
        reads = None
        data: dict[str, Any] | None = {}
        errors: list[dict[str, Any]] = []
        if not plan.empty:  # every root field denied: nothing to run
            try:
                # One deadline for every upstream call of this operation, retries and pacing waits included.
                with recording as reads, operation_deadline(self.settings.upstream.operation_deadline):
                    outcome = self._execute(r, ctx)
                    # graphql-core answers synchronously when no resolver is async (introspection, __typename).
                    executed = await outcome if isawaitable(outcome) else outcome
            except Exception:
                await self.meter.settle(r.principal, pricing.cost, 0)  # nothing answered: nothing spent
                raise
            data, errors = executed.data, [execution_error(e) for e in executed.errors or ()]
        # Denied fields back as null + FORBIDDEN, masks applied: this is what the client gets.
        data, denied = plan.apply(data)
        # Priced on what the client really gets (after plan.apply): a denied field, null, costs nothing,
        # and the plan's own additions (the typename it may inject) are gone. Nothing ran when the
        # whole operation was denied, so nothing is spent (not even a mutation's base cost).
        actual = 0 if plan.empty else actual_cost(pricing.plan, self.meter.model, data)
        if responses is not None and answer_key is not None and reads is not None \
                and not errors and not ctx.extensions:  # no execution errors, nothing stale
            responses.store(answer_key, data, actual, reads, errors=denied)
        state = await self.meter.settle(r.principal, pricing.cost, actual)
        body: dict[str, Any] = {}
        if errors or denied:
            body["errors"] = errors + denied
        body["data"] = data
        body["extensions"] = {**self.meter.extension(state, pricing.cost, actual, pricing.upstream_calls, **r.extra),
                              **ctx.extensions, **(r.notes or {})}
        return PipelineResult(200, body)

    # --- helpers of the steps -----------------------------------------------------------------

    def _execute(self, r: Request, ctx: RequestContext) -> ExecutionResult | Awaitable[ExecutionResult]:
        """The plan's document: compiled when it can be, else graphql-core (resolver spans, role schemas)."""
        assert r.plan is not None and r.schema is not None
        plan, document = r.plan, r.document
        # The compiled plan has no resolver middleware (per-resolver spans need graphql-core's path), and
        # it is built on the full schema: introspection under a role's schema runs on graphql-core.
        if self.compiled is not None and r.schema is self.schema and not self.settings.observability.resolver_spans:
            # Compiled plans are kept per text and checked against the document's identity: an access
            # plan's rewritten document gets a text of its own, so roles that see one query differently
            # do not keep replacing each other's compiled plan.
            text = r.query if plan.document is document else f"{r.query}\n# access plan {id(plan.document)}"
            return self.compiled.execute(plan.document, text, ctx, r.variables, r.operation_name)
        return execute(r.schema, plan.document, context_value=ctx, variable_values=r.variables,
                       operation_name=r.operation_name, hide_suggestions=self.hide_suggestions,
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
