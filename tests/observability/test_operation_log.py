"""One JSON line per operation: trace id, name, duration, cost, upstream calls by source, error codes; no secret."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from harmonia.simulators.data import World
from tests.conftest import Gateway, token_for
from tests.observability.conftest import leaks, secrets

NESTED = """
query Profile($email: String!) {
  customerByEmail(email: $email) {
    email phone firstName emailMarketingStatus orders(first: 2) { edges { node { name } } } }
}
"""


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "harmonia.operations"]


async def test_one_json_line_per_operation_with_what_an_operator_needs(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, world: World, spans: InMemorySpanExporter
) -> None:
    caplog.set_level(logging.INFO, logger="harmonia.operations")
    email = world.contacts[3]["properties"]["email"]
    token = token_for("marketer", sub="crm-dashboard")
    body = await gateway.query(NESTED, {"email": email}, token=token)
    assert "errors" not in body
    calls = {k: v for k, v in gateway.upstream_calls().items() if v}
    denied = await gateway.query("query Stats { campaigns(first: 1) { edges { node { stats { clicks } } } } }",
                                 role="support")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await gateway.client.post("/graphql", json={"query": "{ orders { edges { cursor } } }"},
                              headers={"Authorization": f"Bearer {token}x"})

    first, second, third = _lines(caplog)
    [root] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER and s.name == "query Profile"]
    assert first["trace_id"] == format(root.context.trace_id, "032x")
    assert first["event"] == "graphql.operation" and first["level"] == "info" and first["time"].endswith("Z")
    assert first["operation"] == "Profile" and first["type"] == "query"
    assert first["client"] == "crm-dashboard" and first["roles"] == ["marketer"]
    assert first["status"] == 200 and first["duration_ms"] > 0 and first["errors"] == []
    assert first["cost"]["requested"] == body["extensions"]["cost"]["requestedQueryCost"]
    assert first["cost"]["actual"] == body["extensions"]["cost"]["actualQueryCost"]
    assert first["upstream"] == calls
    assert set(first["upstream"]) == {"hubspot", "shopify", "mailchimp"}

    assert second["operation"] == "Stats" and second["errors"] == ["FORBIDDEN"] and second["roles"] == ["support"]
    assert third["status"] == 401 and third["errors"] == ["UNAUTHENTICATED"] and third["client"] is None

    raw = "\n".join(r.getMessage() for r in caplog.records if r.name == "harmonia.operations")
    assert not leaks(raw, secrets(world, token, f"{token}x")), "a log line carries a secret"


async def test_without_tracing_the_line_carries_the_callers_trace_id(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="harmonia.operations")
    await gateway.post("{ orders(first: 1) { edges { cursor } } }",
                       headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    await gateway.query("{ orders(first: 1) { edges { cursor } } }")

    with_caller, alone = _lines(caplog)
    assert with_caller["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert len(alone["trace_id"]) == 32 and alone["trace_id"] != with_caller["trace_id"]
    assert alone["operation"] is None and alone["type"] == "query"


async def test_the_default_handler_writes_every_line_to_stdout_once_per_loop_turn(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import sys

    from harmonia.observability.oplog import OperationLog

    writes: list[str] = []
    real_write = sys.stdout.write
    monkeypatch.setattr(sys.stdout, "write", lambda text: writes.append(text) or real_write(text))
    log = OperationLog("harmonia.operations.test-stdout")  # a logger with no handler yet: gets the default
    for n in range(3):
        log.write(operation=f"Op{n}", status=200)
    assert capsys.readouterr().out == "", "nothing is written before the loop turns"
    await asyncio.sleep(0)
    log.write(operation="Later", status=200)
    await asyncio.sleep(0)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["operation"] for line in lines] == ["Op0", "Op1", "Op2", "Later"]
    assert all(line["event"] == "graphql.operation" and line["level"] == "info" for line in lines)
    assert lines[0]["time"].endswith("Z") and "T" in lines[0]["time"]
    assert len(writes) == 2, "the three lines of one loop turn go out in one write"
