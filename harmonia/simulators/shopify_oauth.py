"""Shopify's access-token endpoint (client credentials; expiring offline tokens with rotating refresh
tokens), and the one GraphQL Admin query ``harmonia doctor`` needs, until the GraphQL simulator serves it.

    POST /shopify/admin/oauth/access_token   grant_type=client_credentials&client_id&client_secret
    200 {"access_token": "shpat_...", "scope": "read_customers,read_orders,...", "expires_in": 86399}
    POST /shopify/admin/oauth/access_token   {"grant_type": "refresh_token", "client_id", "client_secret",
                                              "refresh_token": "shprt_..."}
    200 {"access_token": ..., "scope": ..., "expires_in": 3600, "refresh_token": "shprt_<next>",
         "refresh_token_expires_in": 7776000}

Form-encoded (the docs) or JSON (``@shopify/shopify-api``) alike. Stricter than Shopify since
2026-08-28 (upstreams.md): a refresh token is spent by its first use, so a client that does not keep
every new one fails its next renewal with 400 ``invalid_grant``; a wrong client is 401 ``invalid_client``.

``POST /shopify/admin/api/{version}/graphql.json`` here answers ``currentAppInstallation { accessScopes
{ handle } }`` only, from the calling token's scopes, with Shopify's ``extensions.cost``. It is mounted
after the Shopify simulator's own routes, so a GraphQL Admin simulator that serves the path takes over.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.oauth import Issued, form_of, oauth_state

AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
INSTALLATION_COST = 2  # currentAppInstallation (1) + accessScopes (1)


def _error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


async def _params(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return {}
        return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return await form_of(request)


def build_token_router(state: SimulatorState) -> APIRouter:
    router = APIRouter()

    @router.post("/admin/oauth/access_token")
    async def access_token(request: Request) -> Response:
        oauth = oauth_state(state)
        params = await _params(request)
        grant = params.get("grant_type", "") or "none"
        oauth.requests[f"shopify {grant}"] += 1
        response = exchange(params, grant)
        if response.status_code != 200:
            oauth.refused[f"shopify {response.status_code}"] += 1
        return response

    def exchange(params: dict[str, str], grant: str) -> Response:
        oauth = oauth_state(state)
        if (fault := oauth.fault("shopify")) is not None:
            return _error(fault.status, fault.error or "server_error", "Injected fault")
        client = oauth.client("shopify", params.get("client_id", ""), params.get("client_secret", ""))
        if client is None:
            return _error(401, "invalid_client", "Client authentication failed: unknown client or wrong secret.")
        if grant == "client_credentials":
            token, lifetime = oauth.issue("shopify", client.client_id, client.scopes, grant)
            return JSONResponse({"access_token": token, "scope": ",".join(client.scopes),
                                 "expires_in": int(lifetime)})
        if grant != "refresh_token":
            return _error(400, "unsupported_grant_type", f"grant_type {grant} is not supported")
        record = oauth.refresh_tokens.get(params.get("refresh_token", ""))
        if record is None or record.spent or record.revoked or record.client_id != client.client_id \
                or (record.expires_at is not None and time.time() >= record.expires_at):
            return _error(400, "invalid_grant", "The refresh token is invalid, expired or has been used.")
        token, lifetime = oauth.issue("shopify", client.client_id, record.scopes, grant)
        following = oauth.next_refresh_token(record)
        return JSONResponse({"access_token": token, "scope": ",".join(record.scopes), "expires_in": int(lifetime),
                             "refresh_token": following,
                             "refresh_token_expires_in": 90 * 24 * 3600})

    return router


def build_graphql_router(state: SimulatorState) -> APIRouter:
    router = APIRouter()

    @router.post("/admin/api/{version}/graphql.json")
    async def graphql(version: str, request: Request) -> Response:
        issued: Issued | None = request.scope.get("harmonia.oauth")
        oauth = oauth_state(state)
        if issued is not None:
            scopes: tuple[str, ...] = tuple(sorted(issued.scopes))
        elif request.headers.get("x-shopify-access-token") == state.config.credentials.get("shopify_token"):
            scopes = oauth.static_scopes.get("shopify", ())
        else:
            return JSONResponse({"errors": AUTH_ERROR}, status_code=401)
        try:
            query = str(orjson.loads(await request.body()).get("query") or "")
        except (orjson.JSONDecodeError, AttributeError):
            return JSONResponse({"errors": [{"message": "Bad Request: body must be JSON with a query"}]},
                                status_code=400)
        if "currentAppInstallation" not in query:
            return JSONResponse({"errors": [{"message": "This simulator answers only currentAppInstallation "
                                             "{ accessScopes { handle } } on the GraphQL Admin API",
                                             "extensions": {"code": "NOT_IMPLEMENTED"}}]}, status_code=200)
        cost = {"requestedQueryCost": INSTALLATION_COST, "actualQueryCost": INSTALLATION_COST,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 2000 - INSTALLATION_COST,
                                   "restoreRate": 100.0}}
        data: dict[str, Any] = {"currentAppInstallation": {"accessScopes": [{"handle": s} for s in scopes]}}
        return JSONResponse({"data": data, "extensions": {"cost": cost}})

    return router
