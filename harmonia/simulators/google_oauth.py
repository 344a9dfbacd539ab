"""Google's token endpoint (``POST https://oauth2.googleapis.com/token``) at ``/google/token``.

    POST /google/token   grant_type=refresh_token&client_id=...&client_secret=...&refresh_token=...
    200 {"access_token": "ya29...", "expires_in": 3599, "scope": "https://.../analytics.readonly ...",
         "token_type": "Bearer"}
    POST /google/token   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>
    200 {"access_token": "ya29...", "expires_in": 3599, "token_type": "Bearer"}

A service account's assertion is verified as Google does (upstreams.md, "Google OAuth 2.0"): RS256
against the public half of the key the simulator handed out (``/__oauth/service-account.json``), ``aud``
this endpoint's URL, ``exp`` at most an hour after ``iat``. Errors are Google's: HTTP 400
``{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}`` and its kin, 401
``invalid_client`` for a wrong client.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.oauth import OAuthState, form_of, oauth_state

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXPIRED_OR_REVOKED = "Token has been expired or revoked."
BAD_TIMES = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
             "Check your iat and exp values in the JWT claim.")
CLOCK_SKEW = 300


def error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def _answer(oauth: OAuthState, client_id: str, scopes: tuple[str, ...], grant: str, *,
            with_scope: bool) -> JSONResponse:
    token, lifetime = oauth.issue("google", client_id, scopes, grant)
    body: dict[str, Any] = {"access_token": token, "expires_in": int(lifetime), "token_type": "Bearer"}
    if with_scope:
        body["scope"] = " ".join(scopes)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _refresh(oauth: OAuthState, form: dict[str, str]) -> Response:
    client = oauth.client("google", form.get("client_id", ""), form.get("client_secret", ""))
    if client is None:
        return error(401, "invalid_client", "Unauthorized")
    record = oauth.refresh_tokens.get(form.get("refresh_token", ""))
    if record is None or record.revoked or record.issuer != "google" or record.client_id != client.client_id:
        return error(400, "invalid_grant", EXPIRED_OR_REVOKED)
    return _answer(oauth, client.client_id, record.scopes, "refresh_token", with_scope=True)


def _jwt_bearer(oauth: OAuthState, assertion: str, audience: str) -> Response:
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return error(400, "invalid_grant", "Invalid JWT: could not be parsed.")
    account = oauth.service_accounts.get(str(claims.get("iss")))
    if account is None:
        return error(400, "invalid_grant", "Invalid grant: account not found")
    try:
        jwt.decode(assertion, account.public_key, algorithms=["RS256"], audience=audience,
                   options={"verify_exp": False, "verify_iat": False, "require": ["iat", "exp", "aud", "iss"]})
    except jwt.InvalidAudienceError:
        return error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
    except jwt.PyJWTError:
        return error(400, "invalid_grant", "Invalid JWT Signature.")
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float) or exp - iat > 3600 \
            or iat > now + CLOCK_SKEW or exp < now - CLOCK_SKEW:
        return error(400, "invalid_grant", BAD_TIMES)
    scopes = tuple(str(claims.get("scope") or "").split())
    if not scopes:
        return error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return _answer(oauth, account.client_email, scopes, "jwt_bearer", with_scope=False)


def build_router(state: SimulatorState) -> APIRouter:
    router = APIRouter()

    @router.post("/token")
    async def token(request: Request) -> Response:
        oauth = oauth_state(state)
        form = await form_of(request)
        grant = form.get("grant_type", "")
        kind = "jwt_bearer" if grant == JWT_BEARER else grant or "none"
        oauth.requests[f"google {kind}"] += 1
        response: Response
        if (fault := oauth.fault("google")) is not None:
            response = error(fault.status, fault.error or ("internal_failure" if fault.status >= 500
                                                           else "invalid_grant"), "Injected fault")
        elif grant == "refresh_token":
            response = _refresh(oauth, form)
        elif grant == JWT_BEARER:
            audience = str(request.url.replace(query=""))
            response = _jwt_bearer(oauth, form.get("assertion", ""), audience)
        else:
            response = error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
        if response.status_code != 200:
            oauth.refused[f"google {response.status_code}"] += 1
        return response

    return router
