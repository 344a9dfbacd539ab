"""OTEL_TRACES_EXPORTER=otlp: spans reach an OTLP/HTTP endpoint as protobuf, as a collector receives them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from harmonia.observability import tracing
from harmonia.observability.metrics import _otlp_readers
from tests.conftest import Gateway


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    received: list[tuple[str, bytes]] = []
    _Collector.received = received
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


async def test_spans_are_exported_over_otlp_http(gateway: Gateway, collector: tuple[str, list[tuple[str, bytes]]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "harmonia-test")
    provider = tracing.provider_from_env({"OTEL_TRACES_EXPORTER": "otlp"})
    assert provider is not None
    tracing.install(provider)
    try:
        assert "errors" not in await gateway.query("query Exported { orders(first: 2) { edges { node { name } } } }")
        assert provider.force_flush(5000)
    finally:
        tracing.install(None)
        provider.shutdown()

    [(path, body)] = received
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attributes["service.name"] == "harmonia-test"
    names = {s.name for scope in resource_spans.scope_spans for s in scope.spans}
    assert {"query Exported", "cache shopify.order-page", "POST /admin/api/2026-10/graphql.json"} <= names


def test_otlp_metrics_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_METRICS_EXPORTER", raising=False)
    assert _otlp_readers() == []
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    [reader] = _otlp_readers()
    assert isinstance(reader, PeriodicExportingMetricReader)
    reader.shutdown()
