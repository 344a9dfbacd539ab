"""One GraphQL operation observed end to end: its span, its metrics, its log line, its field usage.

    with telemetry.operation(request.headers) as op:      # the HTTP adapter
        op.authenticated(principal)
        ...                                                # the pipeline calls note_operation(...)
        op.finish(result.status, result.body)

The span is the trace's SERVER span, continuing the caller's W3C ``traceparent`` when it sent one.
What the pipeline learns (name, type, the fields selected) arrives through ``note_operation``;
everything else (cost, budget, error codes) is read from the response body at the end, so the
cost and limit code needs no hooks of its own.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from harmonia.auth.principal import Principal
from harmonia.observability import tracing
from harmonia.observability.current import OperationRecord, begin, current, end
from harmonia.observability.metrics import record_cost, record_operation
from harmonia.observability.usage_clients import grant_label

if TYPE_CHECKING:
    from harmonia.observability.telemetry import Telemetry

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# Refused before running: the cost and limit checks (aliases, root fields, ... carry a "limit").
_REJECTIONS = frozenset({"COST_LIMIT_EXCEEDED", "DEPTH_LIMIT_EXCEEDED", "THROTTLED"})


def client_label(sub: str) -> str:
    """The client as labels and logs name it: the token subject, hashed when it looks like an email."""
    if "@" in sub:
        return "sha256:" + hashlib.sha256(sub.encode("utf-8")).hexdigest()[:16]
    return sub


def note_operation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode) -> None:
    """The pipeline, once the operation is validated and selected: its name, type and fields."""
    record = current()
    if record is None:
        return
    record.name = operation.name.value if operation.name else None
    record.type = operation.operation.value
    if record.span is not None:
        record.span.update_name(f"{record.type} {record.name}" if record.name else record.type)
        record.span.set_attributes({"graphql.operation.type": record.type,
                                    "graphql.operation.name": record.name or ""})
    services = record.services
    usage = services.usage if services is not None else None
    if usage is not None and record.usage_client is not None:
        usage.record(record.usage_client, usage.coordinates(schema, document, operation),
                     operation=services.usage_names.operation(record.name), version=record.client_version,
                     grant=record.grant)


class OperationScope:
    def __init__(self, services: Telemetry, headers: Mapping[str, str]) -> None:
        self.services = services
        self.headers = headers
        self.record = OperationRecord(services=services)
        self.status = 500
        self.body: Mapping[str, Any] = {}
        self.started = 0.0

    def __enter__(self) -> OperationScope:
        self.started = time.perf_counter()
        self._token = begin(self.record)
        self._attached: object | None = None
        tracer = tracing.tracer()
        if tracer is not None:
            span = tracer.start_span("graphql", context=propagate.extract(self.headers), kind=SpanKind.SERVER)
            self.record.span = span
            self._attached = context.attach(trace.set_span_in_context(span))
        return self

    def authenticated(self, principal: Principal) -> None:
        self.record.client = client_label(principal.sub)
        self.record.metrics_client = self.services.metrics_clients.label(principal)
        self.record.roles = tuple(sorted(principal.roles))
        names = self.services.usage_names
        self.record.usage_client = names.client(self.headers, principal_client=principal.client,
                                                sub_label=self.record.client)
        self.record.client_version = names.version(self.headers)
        self.record.grant = grant_label(principal.roles, principal.scopes)

    def finish(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.body = body

    def __exit__(self, *exc: object) -> None:
        try:
            self._observe(time.perf_counter() - self.started)
        finally:
            if self._attached is not None:
                context.detach(self._attached)  # type: ignore[arg-type]
            end(self._token)

    def _observe(self, seconds: float) -> None:
        record = self.record
        errors = [e for e in self.body.get("errors", ()) if isinstance(e, dict)]
        codes = sorted({str(e.get("extensions", {}).get("code", "INTERNAL")) for e in errors})
        if self.status >= 500 and not codes:
            codes = ["INTERNAL"]
        outcome = ",".join(codes) or "OK"
        cost = (self.body.get("extensions") or {}).get("cost") or {}
        requested = int(cost.get("requestedQueryCost") or 0)
        actual = int(cost.get("actualQueryCost") or 0)
        available = (cost.get("throttleStatus") or {}).get("currentlyAvailable")
        rejected = [e["extensions"]["code"] for e in errors
                    if e.get("extensions", {}).get("code") in _REJECTIONS or "limit" in e.get("extensions", {})]
        name = record.name or "anonymous"
        record_operation(name, outcome, seconds)
        if record.metrics_client is not None:
            record_cost(record.metrics_client, actual=actual, available=available, rejected=rejected)
        span = record.span
        trace_id = self._trace_id(span)
        if span is not None:
            span.set_attributes({
                "harmonia.cost.requested": requested, "harmonia.cost.actual": actual,
                "harmonia.roles": ",".join(record.roles), "http.response.status_code": self.status,
                "harmonia.error_codes": codes,
            })
            if self.status >= 500 or "INTERNAL" in codes:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        log = self.services.oplog
        if log is not None:
            log.write(trace_id=trace_id, operation=record.name, type=record.type, client=record.client,
                      roles=list(record.roles), status=self.status, duration_ms=round(seconds * 1000, 2),
                      cost={"requested": requested, "actual": actual, "available": available},
                      upstream=dict(record.upstream), errors=codes)

    def _trace_id(self, span: Any) -> str:
        if span is not None:
            return format(span.get_span_context().trace_id, "032x")
        match = _TRACEPARENT.match(self.headers.get("traceparent", ""))
        if match and match.group(1) != "0" * 32:
            return match.group(1)  # the caller's trace, so its logs and ours line up
        return format(random.getrandbits(128), "032x")
