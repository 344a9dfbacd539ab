"""Tracing for the process: an OpenTelemetry tracer configured by the standard ``OTEL_*`` variables.

    install(provider_from_env())             # once per process (create_app does it); None = off
    with span("harmonia.loader", {"harmonia.source": "hubspot"}):   # a no-op while tracing is off
        ...
    inject_traceparent(headers)              # W3C traceparent of the current span, for an upstream call

``OTEL_TRACES_EXPORTER`` picks the exporter: ``otlp`` (OTLP over HTTP, endpoint from
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), ``console``, or
``none``/unset: tracing off, and every hook below returns after one ``None`` check.
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SDK_DISABLED`` are read by the SDK itself.

One tracer per process, like OpenTelemetry's own global provider, but kept here rather than
installed globally: a test installs an in-memory exporter and removes it again without the
SDK's "cannot override the provider" rule.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

SCOPE = "harmonia"
_NOOP = contextlib.nullcontext()


class _State:
    provider: TracerProvider | None = None
    tracer: trace.Tracer | None = None


_state = _State()


def exporter_from_env(environ: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The span exporter ``OTEL_TRACES_EXPORTER`` names, or None (tracing off)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    name = env.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if name in ("", "none"):
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL", ""))
        if protocol.strip() not in ("", "http/protobuf"):
            raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: Harmonia exports OTLP over http/protobuf")
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: use otlp, console or none")


def provider_from_env(environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """A provider exporting in batches to the configured exporter; None when tracing is off."""
    exporter = exporter_from_env(environ)
    if exporter is None:
        return None
    provider = TracerProvider(resource=resource())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def resource() -> Resource:
    """The SDK's resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``), named harmonia by default."""
    found = Resource.create()
    if str(found.attributes.get("service.name", "")).startswith("unknown_service"):
        found = found.merge(Resource({"service.name": "harmonia"}))
    return found


def install(provider: TracerProvider | None) -> None:
    """Make ``provider`` the process's tracer (None: tracing off). Replaces any earlier one."""
    _state.provider = provider
    _state.tracer = provider.get_tracer(SCOPE) if provider is not None else None


def installed() -> TracerProvider | None:
    return _state.provider


def enabled() -> bool:
    return _state.tracer is not None


def tracer() -> trace.Tracer | None:
    return _state.tracer


def span(name: str, attributes: Mapping[str, Any] | None = None,
         kind: trace.SpanKind = trace.SpanKind.INTERNAL) -> contextlib.AbstractContextManager[Any]:
    """A child of the current span, current while the block runs; a shared no-op while tracing is off."""
    t = _state.tracer
    if t is None:
        return _NOOP
    return t.start_as_current_span(name, attributes=attributes, kind=kind)


def loader_span(source: str, entity: str, size: int) -> contextlib.AbstractContextManager[Any]:
    """One DataLoader batch: which source and entity, and how many keys it carried."""
    if _state.tracer is None:
        return _NOOP
    return _state.tracer.start_as_current_span(
        f"loader {source}.{entity}",
        attributes={"harmonia.source": source, "harmonia.entity": entity, "harmonia.loader.batch_size": size})


def annotate(attributes: Mapping[str, Any]) -> None:
    """Add attributes to the current span, if one is recording (nothing while tracing is off)."""
    if _state.tracer is None:
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(attributes)


def inject_traceparent(headers: MutableMapping[str, str]) -> None:
    """Write the current span's W3C ``traceparent`` (and ``tracestate``) into ``headers``."""
    if _state.tracer is not None:
        propagate.inject(headers)


def use(span: Any, *, end: bool) -> contextlib.AbstractContextManager[Any]:
    """Make ``span`` current for a block (its own task's context)."""
    return trace.use_span(span, end_on_exit=end, record_exception=False, set_status_on_exception=False)


def event(name: str, attributes: Mapping[str, Any]) -> None:
    """An event on the current span, if one is recording (nothing while tracing is off)."""
    if _state.tracer is None:
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.add_event(name, attributes)
