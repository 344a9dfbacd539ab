"""Shopify's access-token endpoint: client credentials, and expiring offline tokens with rotating refresh
tokens.

    POST /shopify/admin/oauth/access_token   grant_type=client_credentials&client_id&client_secret
    200 {"access_token": "shpat_...", "scope": "read_customers,read_orders,...", "expires_in": 86399}
    POST /shopify/admin/oauth/access_token   {"grant_type": "refresh_token", "client_id", "client_secret",
                                              "refresh_token": "shprt_..."}
    200 {"access_token": ..., "scope": ..., "expires_in": 3600, "refresh_token": "shprt_<next>",
         "refresh_token_expires_in": 7776000}

Form-encoded (the docs) or JSON (``@shopify/shopify-api``) alike. Stricter than Shopify since
2026-08-28 (upstreams.md): a refresh token is spent by its first use, so a client that does not keep
every new one fails its next renewal with 400 ``invalid_grant``; a wrong client is 401 ``invalid_client``.

The Shopify simulator answers ``currentAppInstallation { accessScopes }`` from its own configuration
(``shopify_read_all_orders``), not from the calling token's ``scope``: a client's token lacking
``read_all_orders`` is simulated with that setting (``harmonia simulate --no-read-all-orders``).
"""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.oauth import form_of, oauth_state

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
