"""FastAPI adapter: HTTP in, the framework-free pipeline, JSON out.

``POST /graphql`` and ``GET /graphql`` follow GraphQL over HTTP; a browser's GET gets GraphiQL.
Every operation needs a bearer token; a missing or bad one answers 401 before any GraphQL work (503
with Retry-After while the issuer's key set has never been fetched: a token cannot be checked yet).

CSRF: a browser attaches no bearer token on its own (we use no cookies), a POST must be
``application/json`` (never a form's or ``text/plain``'s simple request) and a GET may only query:
a cross-site page can make a browser send nothing that runs. Bodies are capped before parsing
(``http.max_body_bytes``), and a batch (a JSON array) is refused.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from harmonia.auth.principal import Principal
from harmonia.auth.tokens import TokenVerifier
from harmonia.errors import KeySetUnavailable, Unauthenticated
from harmonia.http.graphiql import graphiql_page
from harmonia.http.pipeline import GraphQLParams, GraphQLPipeline, PipelineResult, error
from harmonia.observability.telemetry import Telemetry

GRAPHQL_RESPONSE = "application/graphql-response+json"
COST_HEADER = "harmonia-cost"


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None past ``limit`` bytes: refused by Content-Length, or while streaming (chunked)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json(result: PipelineResult, media_type: str) -> Response:
    return Response(orjson.dumps(result.body), status_code=result.status, media_type=media_type,
                    headers=result.headers)


def _with_cost_options(params: GraphQLParams, header: str) -> GraphQLParams:
    """``Harmonia-Cost: preview, breakdown`` asks what ``extensions.cost`` asks, from clients that
    let a user set headers but not extensions (GraphiQL's headers pane)."""
    options = {option.strip().lower() for option in header.split(",")}
    extensions = dict(params.extensions) if isinstance(params.extensions, dict) else {}
    cost = dict(extensions["cost"]) if isinstance(extensions.get("cost"), dict) else {}
    cost.update({option: True for option in ("preview", "breakdown") if option in options})
    extensions["cost"] = cost
    return replace(params, extensions=extensions)


def _media_type(accept: str) -> tuple[str, bool]:
    """(response media type, strict statuses): graphql-response+json when the client names it.

    A client that names no type (no Accept, or ``*/*``) gets ``application/json``, as GraphQL over
    HTTP recommends for clients that predate the newer type, with its statuses (200 for a request
    that reached GraphQL, errors in the body); ask for graphql-response+json to get 4xx for them."""
    if GRAPHQL_RESPONSE in accept:
        return GRAPHQL_RESPONSE, True
    return "application/json", False


NO_TOKEN = "A bearer token is required"


async def authenticate(verifier: TokenVerifier, request: Request) -> Principal:
    """The request's principal, or Unauthenticated (no token at all, or one that does not verify)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(NO_TOKEN)
    return await verifier.verify(token.strip())


def challenge(exc: Unauthenticated) -> str:
    """RFC 6750 section 3: no error code when no credentials came at all, ``invalid_token`` otherwise."""
    if exc.message == NO_TOKEN:
        return 'Bearer realm="harmonia"'
    description = exc.message.replace('"', "'")  # our own fixed words, never a library's
    return f'Bearer realm="harmonia", error="invalid_token", error_description="{description}"'


def unauthorized(pipeline: GraphQLPipeline, exc: Unauthenticated, media_type: str) -> Response:
    result = pipeline.reject(401, None, error(exc.message, "UNAUTHENTICATED"))
    result.headers["WWW-Authenticate"] = challenge(exc)
    return _json(result, media_type)


def unverifiable(pipeline: GraphQLPipeline, exc: KeySetUnavailable, media_type: str) -> Response:
    """The issuer's keys cannot be fetched (never have been): 503 and when to retry; the token is not
    known to be bad, so no 401 that would send a client to log in again."""
    result = pipeline.reject(503, None, error(exc.message, exc.code, **exc.extensions))
    result.headers["Retry-After"] = str(exc.retry_after)
    return _json(result, media_type)


def build_graphql_router(pipeline: GraphQLPipeline, verifier: TokenVerifier, telemetry: Telemetry) -> APIRouter:
    router = APIRouter()
    max_body = pipeline.settings.http.max_body_bytes
    graphiql = pipeline.settings.http.graphiql

    async def handle(request: Request, params: GraphQLParams | None, media_type: str, strict: bool,
                     problem: str | None = None) -> Response:
        # Span, metrics, log line and field usage of this operation (harmonia/observability).
        with telemetry.operation(request.headers) as op:
            try:
                principal = await authenticate(verifier, request)
            except Unauthenticated as exc:
                response = unauthorized(pipeline, exc, media_type)
                op.finish(401, {"errors": [{"extensions": {"code": "UNAUTHENTICATED"}}]})
                return response
            except KeySetUnavailable as exc:
                response = unverifiable(pipeline, exc, media_type)
                op.finish(503, {"errors": [{"extensions": {"code": exc.code}}]})
                return response
            op.authenticated(principal)
            if params is not None and (asked := request.headers.get(COST_HEADER)):
                params = _with_cost_options(params, asked)
            if problem is not None or params is None:
                result = await pipeline.refuse(400, principal, error(problem or "Bad request", "BAD_USER_INPUT"))
            else:
                result = await pipeline.run(params, principal, method=request.method, strict_status=strict,
                                            idempotency_key=request.headers.get("idempotency-key"))
            op.finish(result.status, result.body)
            return _json(result, media_type)

    # Plain Starlette routes (``add_route``), not FastAPI endpoints: they take the request and nothing
    # else, and FastAPI's dependency solving and scope bookkeeping cost ~20 us a request, a tenth of
    # a whole-response cache hit.
    async def graphql_get(request: Request) -> Response:
        accept = request.headers.get("accept", "")
        query = request.query_params.get("query")
        if query is None and "text/html" in accept and graphiql:
            return HTMLResponse(graphiql_page())
        media_type, strict = _media_type(accept)
        problem = None
        variables: Any = None
        extensions: Any = None
        try:
            if (raw := request.query_params.get("variables")) is not None:
                variables = orjson.loads(raw)
            if (raw := request.query_params.get("extensions")) is not None:
                extensions = orjson.loads(raw)
        except orjson.JSONDecodeError:
            problem = "`variables` and `extensions` must be JSON"
        params = GraphQLParams(query=query, variables=variables,
                               operation_name=request.query_params.get("operationName"), extensions=extensions)
        return await handle(request, params, media_type, strict, problem)

    async def graphql_post(request: Request) -> Response:
        media_type, strict = _media_type(request.headers.get("accept", ""))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            result = pipeline.reject(415, None, error("Send application/json", "BAD_USER_INPUT"))
            return _json(result, media_type)
        body = await _read_capped(request, max_body)
        if body is None:
            return _json(pipeline.reject(413, None, error(
                f"The request body is larger than {max_body} bytes", "BAD_USER_INPUT", limit=max_body)), media_type)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return await handle(request, None, media_type, strict, "The body is not valid JSON")
        if not isinstance(payload, dict):
            return await handle(request, None, media_type, strict,
                                "The body must be one JSON object (batched requests are off)")
        params = GraphQLParams(query=payload.get("query"), variables=payload.get("variables"),
                               operation_name=payload.get("operationName"), extensions=payload.get("extensions"))
        return await handle(request, params, media_type, strict)

    async def graphql(request: Request) -> Response:
        return await (graphql_post(request) if request.method == "POST" else graphql_get(request))

    # One route for both methods, so that a 405 (PUT, DELETE...) names them all in its Allow header.
    router.add_route("/graphql", graphql, methods=["GET", "HEAD", "POST"])
    return router
