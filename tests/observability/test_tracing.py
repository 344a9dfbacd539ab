"""One trace per operation: the operation span, loader and cache spans, HTTP client spans, traceparent upstream."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from harmonia.observability import tracing
from harmonia.simulators.data import World
from tests.conftest import TEST_SECRET_ENV, Gateway, open_gateway, token_for
from tests.observability.conftest import leaks, secrets

NESTED = """
query Nested($email: String!) {
  customerByEmail(email: $email) { email phone emailMarketingStatus totalSpent { amount } }
  customers(first: 5) { edges { node { email orders(first: 2) { edges { node { name customer { email } } } } } } }
}
"""


def _email(world: World) -> str:
    return str(world.contacts[0]["properties"]["email"])


def _by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans}


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def _text(span: ReadableSpan) -> str:
    parts: list[Any] = [span.name, *dict(span.attributes or {}).items()]
    parts += [(e.name, dict(e.attributes or {})) for e in span.events]
    return repr(parts)


async def test_nested_query_is_one_trace_with_loader_and_http_spans_parented(
    gateway: Gateway, spans: InMemorySpanExporter, world: World
) -> None:
    token = token_for("admin")
    body = await gateway.query(NESTED, {"email": _email(world)}, token=token)
    assert "errors" not in body and body["data"]["customerByEmail"]["email"] == _email(world)

    finished = list(spans.get_finished_spans())
    by_id = _by_id(finished)
    [root] = [s for s in finished if s.kind is SpanKind.SERVER]
    assert root.name == "query Nested" and root.parent is None
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}, "one trace for the operation"
    attrs = dict(root.attributes or {})
    assert attrs["graphql.operation.name"] == "Nested" and attrs["graphql.operation.type"] == "query"
    assert attrs["harmonia.cost.requested"] == body["extensions"]["cost"]["requestedQueryCost"] > 0
    assert attrs["harmonia.cost.actual"] == body["extensions"]["cost"]["actualQueryCost"] > 0
    assert attrs["harmonia.roles"] == "admin"

    loaders = [s for s in finished if s.name.startswith("loader ")]
    assert {s.attributes["harmonia.source"] for s in loaders} >= {"hubspot", "shopify", "mailchimp"}
    for s in loaders:
        assert s.attributes["harmonia.loader.batch_size"] >= 1
        assert root in _ancestors(s, by_id)
    http = [s for s in finished if s.kind is SpanKind.CLIENT]
    assert len(http) == sum(gateway.upstream_calls().values()), "one client span per upstream call"
    for s in http:
        chain = _ancestors(s, by_id)
        assert chain[-1] is root, "every HTTP span hangs under the operation"
        assert chain[0].name.startswith(("loader ", "cache ")), "an HTTP span's parent is its loader batch or lookup"
        assert s.attributes["http.response.status_code"] == 200
        assert s.name == f"{s.attributes['http.request.method']} {s.attributes['url.template']}"
    # The page's customers' orders are one batch: one loader span carrying several keys, parent of their calls.
    [orders_batch] = [s for s in loaders if s.name == "loader shopify.customer-orders"]
    assert orders_batch.attributes["harmonia.loader.batch_size"] > 1
    assert any(s.parent and s.parent.span_id == orders_batch.context.span_id for s in http)
    lookups = [e for s in finished for e in s.events if e.name == "cache.lookup"]
    assert lookups and all(e.attributes["harmonia.cache.tier"] == "memory" for e in lookups)

    forbidden = secrets(world, token)
    for s in finished:
        assert not leaks(_text(s), forbidden), f"span {s.name} carries a secret"


async def test_upstreams_receive_the_operations_traceparent(
    gateway: Gateway, spans: InMemorySpanExporter, world: World
) -> None:
    await gateway.query(NESTED, {"email": _email(world)})

    finished = spans.get_finished_spans()
    [root] = [s for s in finished if s.kind is SpanKind.SERVER]
    client_spans = {s.context.span_id for s in finished if s.kind is SpanKind.CLIENT}
    received = [r["traceparent"] for r in gateway.sim.log]
    assert len(received) >= 5 and all(received)
    for header in received:
        version, trace_id, parent_id, flags = header.split("-")
        assert version == "00" and int(flags, 16) & 1, "sampled"
        assert trace_id == format(root.context.trace_id, "032x")
        assert int(parent_id, 16) in client_spans, "the source's parent is the HTTP span that called it"


async def test_a_callers_traceparent_is_continued(gateway: Gateway, spans: InMemorySpanExporter) -> None:
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await gateway.post("{ orders(first: 2) { edges { node { name } } } }",
                                  headers={"traceparent": caller})
    assert response.status_code == 200

    [root] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert format(root.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert root.parent is not None and format(root.parent.span_id, "016x") == "b7ad6b7169203331"
    assert all(r["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c" for r in gateway.sim.log)


async def test_tracing_off_sends_no_traceparent_and_records_nothing(gateway: Gateway) -> None:
    assert not tracing.enabled()
    body = await gateway.query("{ orders(first: 2) { edges { node { name customer { email } } } } }")

    assert "errors" not in body
    assert gateway.sim.log and all(r["traceparent"] is None for r in gateway.sim.log)


async def test_shopify_spans_name_the_graphql_operation_the_connector_sent(
    gateway: Gateway, spans: InMemorySpanExporter, world: World
) -> None:
    await gateway.query(NESTED, {"email": _email(world)})

    shopify = [s for s in spans.get_finished_spans()
               if s.kind is SpanKind.CLIENT and s.attributes["harmonia.source"] == "shopify"]
    operations = sorted(str(s.attributes.get("graphql.operation.name")) for s in shopify)
    sent = sorted(json.loads(r["body"])["query"].split("(")[0].split()[1] for r in gateway.log("shopify"))
    assert operations == sent and set(operations) <= {"HarmoniaCustomerOrders", "HarmoniaCustomersByIds",
                                                      "HarmoniaCustomersByEmail"}


async def test_http_span_routes_are_the_sources_route_templates(
    gateway: Gateway, spans: InMemorySpanExporter, world: World
) -> None:
    await gateway.query(NESTED, {"email": _email(world)})
    # A page across the end of Mailchimp's campaigns into Google Ads' (stats from both).
    await gateway.query('query Campaigns($n: Int) { campaigns(first: $n) { edges { node { name stats { clicks } '
                        'analytics(dateRange: {startDate: "2026-01-01", endDate: "2026-01-31"}) { sessions } } } } }',
                        {"n": len(world.campaigns) + 2})

    ours = sorted(f"{s.attributes['harmonia.source']} {s.name}" for s in spans.get_finished_spans()
                  if s.kind is SpanKind.CLIENT)
    # The simulators name their routes' parameters; ours are all {id}, and API versions stay literal.
    theirs = sorted(f"{r['source']} {r['method']} {re.sub(r'{[^}]+}', '{id}', r['route'])}" for r in gateway.sim.log)
    # The simulators take the API version as a parameter (Shopify's 2026-10, Google Ads' v26).
    versions = [x.replace("/api/2026-10/", "/api/{id}/").replace(" /v26/", " /{id}/") for x in ours]
    assert versions == theirs
    assert {"ga4", "mailchimp", "googleads"} <= {x.split()[0] for x in ours}


async def test_resolver_spans_only_when_asked_for(spans: InMemorySpanExporter, fast_sim_state: Any) -> None:
    query = "{ orders(first: 2) { edges { node { name customer { email } } } } }"
    plain, close = await open_gateway(fast_sim_state)
    try:
        await plain.query(query)
    finally:
        await close()
    assert not [s for s in spans.get_finished_spans() if s.name.startswith("resolve ")]

    spans.clear()
    verbose, close = await open_gateway(fast_sim_state, observability={"resolver_spans": True})
    try:
        await verbose.query(query)
    finally:
        await close()
    finished = spans.get_finished_spans()
    by_id = _by_id(finished)
    resolved = {s.name for s in finished if s.name.startswith("resolve ")}
    assert {"resolve Query.orders", "resolve Order.customer", "resolve Customer.email"} <= resolved
    [customer] = [s for s in finished if s.name == "resolve Order.customer"][:1]
    loader = next(s for s in finished if s.name == "loader hubspot.contact-by-email")
    assert loader.parent is not None and by_id[loader.parent.span_id].name == "resolve Order.customer"
    assert customer.attributes["graphql.field.path"].startswith("orders.edges.")


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({"OTEL_TRACES_EXPORTER": "none"}, None),
    ({"OTEL_TRACES_EXPORTER": "console"}, "ConsoleSpanExporter"),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "OTLPSpanExporter"),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, None),
])
def test_the_standard_otel_variables_choose_the_exporter(env: dict[str, str], expected: str | None) -> None:
    exporter = tracing.exporter_from_env(env)
    assert (type(exporter).__name__ if exporter is not None else None) == expected
    if exporter is not None:
        exporter.shutdown()


def test_an_unknown_exporter_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="use otlp, console or none"):
        tracing.exporter_from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(ValueError, match="http/protobuf"):
        tracing.exporter_from_env({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


def test_serve_refuses_a_bad_exporter_before_starting() -> None:
    env = {**os.environ, **TEST_SECRET_ENV, "OTEL_TRACES_EXPORTER": "zipkin"}
    done = subprocess.run([sys.executable, "-m", "harmonia.cli", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2
    assert "OTEL_TRACES_EXPORTER='zipkin': use otlp, console or none" in done.stderr


def test_a_global_tracer_provider_gets_harmonias_spans_only_not_the_frameworks() -> None:
    """With a process-wide provider (as `opentelemetry-instrument` sets one), FastAPI's own telemetry
    would add a second SERVER span per request (and HTTP metrics, and exception logs): it is off."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import asyncio, httpx
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from harmonia.app import create_app
        from harmonia.observability import tracing
        from harmonia.settings import load_settings
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        tracing.install(provider)
        async def main():
            app = create_app(load_settings(auth={"jwt_secret": "x" * 32}))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
                await c.post("/graphql", json={"query": "{ __typename }"})
        asyncio.run(main())
        print(sorted(s.name for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.SERVER))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "['graphql']"
