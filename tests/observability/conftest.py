"""Tracing into memory for a test, and the secrets no span, metric or log line may carry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from harmonia.observability import tracing
from harmonia.settings import DEMO_CREDENTIALS
from harmonia.simulators.data import World
from tests.conftest import TEST_JWT_SECRET


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on (every span sampled) into an in-memory exporter, off again afterwards."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)
    provider.shutdown()


def secrets(world: World, *tokens: str) -> list[str]:
    """Every string that must never reach telemetry: tokens, source credentials, the people's emails and phones."""
    found = {*tokens, *DEMO_CREDENTIALS.values(), TEST_JWT_SECRET}
    for contact in world.contacts:
        props = contact["properties"]
        found.update(str(props.get(k) or "").strip().lower() for k in ("email", "phone"))
    for customer in world.shopify_customers:
        found.update(str(customer.get(k) or "").strip().lower() for k in ("email", "phone"))
    for member in world.members.values():
        found.add(str(member.get("email_address") or "").strip().lower())
        found.add(str(member.get("id") or ""))  # the subscriber hash: the MD5 of an email
    # Ids of the demo account (property, customer, list) are not secrets on their own, but they are
    # what a careless template would leak: keep them in, they are long enough not to match by chance.
    return sorted(s for s in found if len(s) >= 8)


def leaks(text: str, forbidden: list[str]) -> list[str]:
    lowered = text.lower()
    return [s for s in forbidden if s in lowered]
