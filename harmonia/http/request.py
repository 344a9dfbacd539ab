"""One GraphQL request as the pipeline's steps fill it in, and what a step answers.

    request = Request(GraphQLParams(query="{ __typename }"), principal, "POST", True, None)
    outcome = step(request)      # None: go on; a PipelineResult: the answer; an awaitable: await it first
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode

from harmonia.auth.policy import FieldAccess
from harmonia.auth.principal import Principal
from harmonia.limits.check import Pricing
from harmonia.limits.meter import CostOptions
from harmonia.schema.access_plan import AccessPlan
from harmonia.schema.role_schema import RoleView


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


NO_OPTIONS = CostOptions()


@dataclass(slots=True)
class Request:
    """One request as the steps fill it in (each field is set by the step named beside it)."""

    params: GraphQLParams
    principal: Principal
    method: str
    strict_status: bool                          # the client accepts graphql-response+json: 4xx for its errors
    idempotency_key: str | None
    text: Any = None                             # persisted_query: the text to run, not yet checked
    register: str | None = None                  # persisted_query: the APQ hash to store it under
    query: str = ""                              # request_shape
    variables: dict[str, Any] | None = None      # request_shape
    operation_name: str | None = None            # request_shape
    document: DocumentNode | None = None         # parse_document
    access: FieldAccess | None = None            # role_view
    view: RoleView | None = None                 # role_view
    operation: OperationDefinitionNode | None = None  # choose_operation
    options: CostOptions = NO_OPTIONS            # price
    pricing: Pricing | None = None               # price
    extra: dict[str, Any] = field(default_factory=dict)   # price: more of extensions.cost
    notes: dict[str, Any] | None = None          # register_persisted: more of the answer's extensions
    plan: AccessPlan | None = None               # authorize
    schema: GraphQLSchema | None = None          # authorize: the schema to execute on
    answer_key: str | None = None                # cached_answer: where the answer is kept, when it may be

    @property
    def request_error(self) -> int:
        # 400 for graphql-response+json; 200 for application/json, as GraphQL over HTTP asks.
        return 400 if self.strict_status else 200


# None: go on; a result: the answer; an awaitable: await it, then the same.
Outcome = PipelineResult | Awaitable[PipelineResult | None] | None
Step = Callable[[Request], Outcome]
