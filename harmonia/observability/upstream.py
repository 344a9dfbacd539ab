"""Every HTTP call to a source, measured and traced: ``traced_request`` in place of ``client.request``.

    path = "/admin/api/2024-04/customers/42.json"
    response = await traced_request(client, "shopify", "GET", path, url=client.build_request("GET", path).url,
                                     json=None, headers=None)

It counts the call (``harmonia_upstream_requests_total{source, method, route, status}``), its time
and failures, on the current operation too; with tracing on it opens a CLIENT span named
``GET /admin/api/2024-04/customers/{id}.json`` and sends the W3C ``traceparent`` to the source.
Only the route template goes into labels and spans: no ids, no query string, no credentials.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Mapping
from functools import lru_cache
from typing import Any

import httpx
import orjson
from opentelemetry.trace import SpanKind, Status, StatusCode

from harmonia.observability import tracing
from harmonia.observability.current import note_upstream
from harmonia.observability.metrics import record_upstream
from harmonia.observability.source_series import source_series

# Path segments kept as they are although they hold digits: API versions ("v17", "3.0", "2024-04").
_VERSION = re.compile(r"^(v\d+(?:(?:alpha|beta)\d*)?|\d+\.\d+|\d{4}-\d{2})$")
# A segment's own suffix kept after the id: Shopify's ".json", Google's ":runReport".
_SUFFIX = re.compile(r"^(.*?)((?:\.json)?(?::[A-Za-z]+)?)$")
_ID_LIKE = re.compile(r"[0-9%@=+]")
_OPERATION = re.compile(r"\s*(?:query|mutation)\s+(\w+)")


@lru_cache(maxsize=4096)  # pure, and most calls repeat a path (a list, a batch, a report)
def route_template(path: str) -> str:
    """The path with its ids replaced by ``{id}``: ``/crm/v3/objects/contacts/{id}``."""
    out = []
    for segment in path.split("/"):
        core, suffix = _SUFFIX.match(segment).groups()  # type: ignore[union-attr]  # the pattern always matches
        if core and not _VERSION.match(core) and (_ID_LIKE.search(core) or len(core) >= 24):
            segment = "{id}" + suffix
        out.append(segment)
    return "/".join(out)


def _record(source: str, method: str, route: str, status: int | None, error: str | None, started: float) -> None:
    note_upstream(source)
    if status is not None and status >= 400:
        error = str(status)
    seconds = time.perf_counter() - started
    record_upstream(source, method, route, str(status) if status is not None else error or "error", seconds, error)
    # The catalogue's charts and the anomaly detector's baselines; a 4xx other than 429 is the
    # request's fault, not the source's, so it is not an error of the source here.
    source_series().record(source, seconds, error=error is not None and (status is None or status >= 500
                                                                          or status == 429))


def _error_kind(exc: BaseException) -> str:
    return "timeout" if isinstance(exc, httpx.TimeoutException) else "transport"


def _send(client: httpx.AsyncClient, method: str, url: httpx.URL, content: bytes | None,
          headers: Mapping[str, str] | None) -> Awaitable[httpx.Response]:
    fetch = getattr(client, "fetch", None)  # the sources' own client (harmonia.sources._http.SourceClient)
    if fetch is not None:
        return fetch(method, url, content=content, headers=headers)  # type: ignore[no-any-return]
    return client.request(method, url, content=content, headers=headers)


async def traced_request(client: httpx.AsyncClient, source: str, method: str, path: str, *,
                         url: httpx.URL, json: Any, headers: Mapping[str, str] | None) -> httpx.Response:
    """``path`` names the route (labels, span); ``url`` is what is called (absolute, query included)."""
    route = route_template(path)
    tracer = tracing.tracer()
    started = time.perf_counter()
    content: bytes | None = None
    if json is not None:  # orjson: several times cheaper than httpx's stdlib json on a 50-email batch read
        content = orjson.dumps(json, option=orjson.OPT_NON_STR_KEYS)
        headers = {**(headers or {}), "Content-Type": "application/json"}
    if tracer is None:
        try:
            response = await _send(client, method, url, content, headers)
        except httpx.HTTPError as exc:
            _record(source, method, route, None, _error_kind(exc), started)
            raise
        _record(source, method, route, response.status_code, None, started)
        return response
    attributes = {"http.request.method": method, "url.template": route, "harmonia.source": source}
    if isinstance(json, dict) and isinstance(json.get("query"), str):
        # A GraphQL API (Shopify) is one route: the operation says which call it was. The names are
        # the connector's own (HarmoniaOrders), never a client's text.
        named = _OPERATION.match(json["query"])
        if named:
            attributes["graphql.operation.name"] = named.group(1)
    # Exceptions are described by their kind alone: their messages may quote URLs.
    with tracer.start_as_current_span(f"{method} {route}", kind=SpanKind.CLIENT, attributes=attributes,
                                      record_exception=False, set_status_on_exception=False) as span:
        carrier = dict(headers or {})
        tracing.inject_traceparent(carrier)
        try:
            response = await _send(client, method, url, content, carrier)
        except httpx.HTTPError as exc:
            kind = _error_kind(exc)
            span.set_attribute("error.type", kind)
            span.set_status(Status(StatusCode.ERROR))
            _record(source, method, route, None, kind, started)
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 400:
            span.set_attribute("error.type", str(response.status_code))
            span.set_status(Status(StatusCode.ERROR))
        _record(source, method, route, response.status_code, None, started)
        return response
