"""The "build without the instrumentation" of bench/observability.py: this tree with every hook a no-op.

Imported by Python at start-up when this folder is on PYTHONPATH (``site`` imports ``sitecustomize``).
Each place where the gateway calls into harmonia.observability gets a stand-in that does nothing, or,
for the upstream call, the bare ``client.request`` the instrumented one wraps (same orjson body), so
the gateway runs what it would run had the instrumentation never been written, but for one call to
an empty function per hook. Field usage and the operation log are switched off by their settings.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

os.environ.setdefault("HARMONIA_OBSERVABILITY__OPERATION_LOG", "false")
os.environ.setdefault("HARMONIA_OBSERVABILITY__FIELD_USAGE", "false")

from harmonia.cache import entity
from harmonia.http import pipeline
from harmonia.observability import metrics, operation, telemetry
from harmonia.resolvers import cached
from harmonia.sources import _http

_NOOP = contextlib.nullcontext()


async def bare_request(client: httpx.AsyncClient, source: str, method: str, path: str, *,
                       params: Mapping[str, Any] | None, json: Any,
                       headers: Mapping[str, str] | None) -> httpx.Response:
    content = None
    if json is not None:
        content = orjson.dumps(json, option=orjson.OPT_NON_STR_KEYS)
        headers = {**(headers or {}), "Content-Type": "application/json"}
    return await client.request(method, path, params=params, content=content, headers=headers)


class BareScope:
    def __init__(self, *_: Any) -> None:
        pass

    def __enter__(self) -> BareScope:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def authenticated(self, _principal: Any) -> None:
        pass

    def finish(self, _status: int, _body: Any) -> None:
        pass


def nothing(*_: Any, **__: Any) -> None:
    return None


_http.traced_request = bare_request  # type: ignore[assignment]
entity.note_lookup = nothing
pipeline.note_operation = nothing
cached.loader_span = lambda *_a, **_k: _NOOP  # type: ignore[assignment]
cached.span = lambda *_a, **_k: _NOOP  # type: ignore[assignment]
operation.OperationScope = BareScope  # type: ignore[assignment, misc]
telemetry.OperationScope = BareScope  # type: ignore[assignment, misc]
for name in ("record_operation", "record_cost", "record_upstream", "record_cache"):
    setattr(metrics, name, nothing)
