"""The simulators' front door for issued tokens: an expired or revoked one gets the API's own 401.

    app.add_middleware(TokenFrontDoor, state=state)

Each API simulator checks the pasted demo credential it was configured with. A token that one of the
simulated token endpoints issued (``oauth.py``) is checked here first, as Google's front end checks a
token before an API sees the call: expired or revoked, the answer is that API's 401 (HubSpot's
``EXPIRED_AUTHENTICATION``, Shopify's ``[API] Invalid API key or access token``, Google's
``UNAUTHENTICATED``); without the API's scope, Google's 403 ``ACCESS_TOKEN_SCOPE_INSUFFICIENT``; live,
the call goes on as the account's own credential, with the token's record in ``scope["harmonia.oauth"]``
(Shopify's ``accessScopes`` read it). Tokens never issued here pass untouched to the API's own check.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.oauth import ADS_SCOPE, GA4_SCOPE, Issued, oauth_state

GOOGLE_401 = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
              "other valid authentication credential. See "
              "https://developers.google.com/identity/sign-in/web/devconsole-project.")
SHOPIFY_401 = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@dataclass(frozen=True)
class Guarded:
    header: bytes
    prefix: str                # "Bearer " (case-insensitive) or "" for Shopify's own header
    credential: str            # the SimulatorConfig.credentials key the API simulator checks
    issuer: str
    scopes: frozenset[str]     # any one of them lets the call through; empty: no scope check


GUARDED = {
    "hubspot": Guarded(b"authorization", "Bearer ", "hubspot_token", "hubspot", frozenset()),
    "shopify": Guarded(b"x-shopify-access-token", "", "shopify_token", "shopify", frozenset()),
    "ga4": Guarded(b"authorization", "Bearer ", "ga4_token", "google",
                   frozenset({GA4_SCOPE, "https://www.googleapis.com/auth/analytics"})),
    "googleads": Guarded(b"authorization", "Bearer ", "googleads_token", "google", frozenset({ADS_SCOPE})),
}
TOKEN_ENDPOINTS = ("/hubspot/oauth/", "/shopify/admin/oauth/")


class TokenFrontDoor:
    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        source = path.split("/", 2)[1] if path.count("/") >= 2 else ""
        guarded = GUARDED.get(source)
        if guarded is None or path.startswith(TOKEN_ENDPOINTS):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        value = next((v.decode("latin-1") for k, v in headers if k == guarded.header), "")
        token = _strip(value, guarded.prefix)
        oauth = oauth_state(self.state)
        issued = oauth.check(token) if token else None
        if issued is None or issued.issuer != guarded.issuer:
            await self.app(scope, receive, send)  # a pasted credential, or garbage: the API decides
            return
        refusal = _refusal(source, guarded, issued)
        if refusal is not None:
            oauth.api_refusals[f"{source} {refusal[0]}"] += 1
            await refusal[1](scope, receive, send)
            return
        stand_in = f"{guarded.prefix}{self.state.config.credentials[guarded.credential]}".encode("latin-1")
        scope = {**scope, "headers": [(k, stand_in if k == guarded.header else v) for k, v in headers],
                 "harmonia.oauth": issued}
        await self.app(scope, receive, send)


def _strip(value: str, prefix: str) -> str:
    if not prefix:
        return value.strip()
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == prefix.strip().lower() else ""


def _refusal(source: str, guarded: Guarded, issued: Issued) -> tuple[str, Response] | None:
    now = time.time()
    if issued.revoked or now >= issued.expires_at:
        reason = "revoked" if issued.revoked else "expired"
        return reason, _unauthorized(source, reason, now - issued.expires_at)
    if guarded.scopes and not guarded.scopes & issued.scopes:
        return "scope", JSONResponse({"error": {
            "code": 403, "message": "Request had insufficient authentication scopes.", "status": "PERMISSION_DENIED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                         "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com"}]}}, status_code=403)
    return None


def _unauthorized(source: str, reason: str, seconds_ago: float) -> Response:
    if source == "hubspot":
        if reason == "expired":
            message = f"The OAuth token used to make this call expired {max(1, int(seconds_ago))} second(s) ago."
            category = "EXPIRED_AUTHENTICATION"
        else:
            message, category = "The OAuth token used to make this call is not valid.", "INVALID_AUTHENTICATION"
        return JSONResponse({"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                             "category": category}, status_code=401)
    if source == "shopify":
        return JSONResponse({"errors": SHOPIFY_401}, status_code=401)
    error: dict[str, object] = {"code": 401, "message": GOOGLE_401, "status": "UNAUTHENTICATED"}
    if source == "googleads":
        # Google Ads adds its failure detail (the enum names are Google's; this pairing is unverified).
        code = "OAUTH_TOKEN_EXPIRED" if reason == "expired" else "OAUTH_TOKEN_REVOKED"
        error["details"] = [{"@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
                             "errors": [{"errorCode": {"authenticationError": code},
                                         "message": "Authentication of the request failed."}]}]
    return JSONResponse({"error": error}, status_code=401,
                        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                                    'error="invalid_token"'})
