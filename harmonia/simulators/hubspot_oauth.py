"""HubSpot's OAuth token endpoint, and its access-token metadata, beside the CRM simulator.

    POST /hubspot/oauth/v1/token   grant_type=refresh_token&client_id&client_secret&refresh_token
    200 {"token_type": "bearer", "refresh_token": "...", "access_token": "...", "expires_in": 1800}
    GET  /hubspot/oauth/v1/access-tokens/{token}
    200 {"token": "...", "hub_id": 6748263, "app_id": ..., "scopes": [...], "expires_in": 1712, ...}

The newer ``/oauth/2026-03/token`` takes the same form. HubSpot does not rotate refresh tokens (the
same one comes back) and has no client-credentials grant. A bad refresh token is 400
``{"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token", ...}`` (upstreams.md,
unverified there), a wrong client 400 ``BAD_CLIENT_ID`` / ``BAD_CLIENT_SECRET``.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.oauth import form_of, oauth_state

HUB_ID = 6748263


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"status": code, "message": message, "correlationId": str(uuid.uuid4())},
                        status_code=status)


def build_router(state: SimulatorState) -> APIRouter:
    router = APIRouter()

    async def token(request: Request) -> Response:
        oauth = oauth_state(state)
        form = await form_of(request)
        grant = form.get("grant_type", "") or "none"
        oauth.requests[f"hubspot {grant}"] += 1
        response = _exchange(form, grant)
        if response.status_code != 200:
            oauth.refused[f"hubspot {response.status_code}"] += 1
        return response

    def _exchange(form: dict[str, str], grant: str) -> Response:
        oauth = oauth_state(state)
        if (fault := oauth.fault("hubspot")) is not None:
            return _error(fault.status, fault.error or "BAD_REFRESH_TOKEN", "Injected fault")
        if grant != "refresh_token":
            return _error(400, "BAD_GRANT_TYPE", f"grant_type {grant} is not supported here")
        if ("hubspot", form.get("client_id", "")) not in oauth.clients:
            return _error(400, "BAD_CLIENT_ID", "missing or unknown client id")
        client = oauth.client("hubspot", form.get("client_id", ""), form.get("client_secret", ""))
        if client is None:
            return _error(400, "BAD_CLIENT_SECRET", "missing or invalid client secret")
        refresh = form.get("refresh_token", "")
        record = oauth.refresh_tokens.get(refresh)
        if record is None or record.revoked or record.issuer != "hubspot" or record.client_id != client.client_id:
            return _error(400, "BAD_REFRESH_TOKEN", "missing or invalid refresh token")
        access, lifetime = oauth.issue("hubspot", client.client_id, record.scopes, "refresh_token")
        return JSONResponse({"token_type": "bearer", "refresh_token": refresh, "access_token": access,
                             "expires_in": int(lifetime)})

    router.add_api_route("/oauth/v1/token", token, methods=["POST"])
    router.add_api_route("/oauth/2026-03/token", token, methods=["POST"])

    @router.get("/oauth/v1/access-tokens/{token}")
    async def metadata(token: str) -> Response:
        issued = oauth_state(state).check(token)
        if issued is None or issued.issuer != "hubspot" or not issued.live(time.time()):
            return _error(404, "NOT_FOUND", "access token not found or expired")
        return JSONResponse({"token": token, "user": "demo@example.com", "hub_domain": "demo.hubspot.com",
                             "scopes": sorted(issued.scopes), "hub_id": HUB_ID, "app_id": 1000001,
                             "expires_in": max(0, int(issued.expires_at - time.time())), "user_id": 1,
                             "token_type": "access"})

    return router
