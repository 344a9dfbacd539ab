"""The admin API of declared sources (JSON over HTTP, an admin's bearer token).

    GET  /admin/sources/declared               the declared sources in force
    POST /admin/sources/declared/dry-run       {"files": {"klaviyo.yaml": "<yaml>", ...}}: what applying would do
    PUT  /admin/sources/declared               the same body: apply it here and on every instance

The body is the whole new set (a file left out is a source removed). A refused set answers 422 with
``{"error": {"code": "BAD_USER_INPUT", "message", "file", "line", "key"}}`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from harmonia.auth.store import PolicyStore
from harmonia.auth.tokens import TokenVerifier
from harmonia.errors import KeySetUnavailable, Unauthenticated
from harmonia.http.declared_sources import DeclaredLifecycle, Refused, Report
from harmonia.http.routes import authenticate, challenge

MAX_BODY = 1024 * 1024
MAX_FILES = 50


def _problem(status: int, code: str, message: str, **detail: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **detail}}, status_code=status)


def declared_sources_router(lifecycle: DeclaredLifecycle, verifier: TokenVerifier, policies: PolicyStore) -> APIRouter:
    router = APIRouter()

    async def admin(request: Request) -> JSONResponse | str:
        try:
            principal = await authenticate(verifier, request)
        except Unauthenticated as exc:
            response = _problem(401, "UNAUTHENTICATED", exc.message)
            response.headers["WWW-Authenticate"] = challenge(exc)
            return response
        except KeySetUnavailable as exc:
            return _problem(503, "UPSTREAM_UNAVAILABLE", exc.message)
        if not principal.roles & policies.current.admins:
            return _problem(403, "FORBIDDEN", "Only the policy's admins manage declared sources")
        return principal.sub

    async def files(request: Request) -> dict[str, str] | JSONResponse:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _problem(413, "BAD_USER_INPUT", f"The body is larger than {MAX_BODY} bytes")
        try:
            body = await request.json()
        except ValueError:
            return _problem(400, "BAD_USER_INPUT", "The body must be JSON: {\"files\": {name: yaml text}}")
        texts = body.get("files") if isinstance(body, dict) else None
        if not isinstance(texts, dict) or len(texts) > MAX_FILES or not all(
                isinstance(k, str) and k.endswith((".yaml", ".yml")) and "/" not in k and isinstance(v, str)
                for k, v in texts.items()):
            return _problem(400, "BAD_USER_INPUT", "`files` maps file names (*.yaml, no folders) to YAML text")
        return texts

    @router.get("/admin/sources/declared")
    async def listing(request: Request) -> JSONResponse:
        who = await admin(request)
        if isinstance(who, JSONResponse):
            return who
        return JSONResponse(lifecycle.listing())

    async def checked(request: Request, run: Callable[[str, dict[str, str]], Awaitable[Report]]) -> JSONResponse:
        """An admin's set of files, run through a dry run or an apply; refusals as 4xx with where."""
        who = await admin(request)
        if isinstance(who, JSONResponse):
            return who
        texts = await files(request)
        if isinstance(texts, JSONResponse):
            return texts
        try:
            report = await run(who, texts)
        except Refused as exc:
            return _problem(422, "BAD_USER_INPUT", exc.message, **exc.where)
        return JSONResponse(report.to_json())

    @router.post("/admin/sources/declared/dry-run")
    async def dry_run(request: Request) -> JSONResponse:
        return await checked(request, lambda _who, texts: lifecycle.dry_run(texts))

    @router.put("/admin/sources/declared")
    async def apply(request: Request) -> JSONResponse:
        return await checked(request, lambda who, texts: lifecycle.apply(texts, actor=who))

    return router
