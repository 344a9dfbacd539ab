"""The simulators' OAuth side: which clients exist, which tokens were issued, and the test controls.

    oauth = oauth_state(state)
    answer = oauth.issue("google", "demo-client...", scopes, grant="refresh_token")   # the token JSON
    oauth.check(token)            # Issued (live, expired or revoked) or None for a token never issued here

Three issuers, as the vendors run them: ``google`` (``/google/token``, for GA4 and Google Ads),
``hubspot`` (``/hubspot/oauth/v1/token``) and ``shopify`` (``/shopify/admin/oauth/access_token``).
Access tokens live as long as each vendor's do (Google 3599 s, HubSpot 1800 s, Shopify 3600 s for an
expiring offline token, 86399 s from client credentials) unless a lifetime is set for all of them.

Test and demo controls, on the simulators' root:
``GET /__oauth`` (token requests per issuer and grant, per client, refusals at the APIs),
``POST /__oauth`` ``{"lifetime_seconds": 3, "fail": {"issuer": "google", "status": 503, "seconds": 10},
"static_scopes": {"shopify": ["read_orders"]}}``, ``POST /__oauth/clients`` (register a client),
``POST /__oauth/revoke`` ``{"issuer": "hubspot"}`` or ``{"token": "..."}`` (add ``"refresh": true`` for
refresh tokens), ``GET /__oauth/service-account.json`` (a key file whose ``token_uri`` is this simulator).
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState

ISSUERS = ("google", "hubspot", "shopify")
GA4_SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
ADS_SCOPE = "https://www.googleapis.com/auth/adwords"
SHOPIFY_SCOPES = ("read_customers", "write_customers", "read_orders", "read_all_orders")
HUBSPOT_SCOPES = ("crm.objects.contacts.read", "crm.objects.contacts.write", "oauth")
# (issuer, grant) -> the vendor's access token lifetime in seconds
LIFETIMES = {("google", "refresh_token"): 3599, ("google", "jwt_bearer"): 3599, ("hubspot", "refresh_token"): 1800,
             ("shopify", "refresh_token"): 3600, ("shopify", "client_credentials"): 86399}
SHOPIFY_REFRESH_LIFETIME = 90 * 24 * 3600
PREFIXES = {"google": "ya29.sim-", "hubspot": "CK-sim-", "shopify": "shpat_sim_"}

# Clients every simulator knows from the start (``harmonia demo`` and the tests use them).
DEMO_OAUTH: dict[str, dict[str, Any]] = {
    "google": {"client_id": "demo-client.apps.googleusercontent.com", "client_secret": "demo-google-client-secret",
               "refresh_token": "1//demo-google-refresh-token", "scopes": [GA4_SCOPE, ADS_SCOPE]},
    "hubspot": {"client_id": "demo-hubspot-client-id", "client_secret": "demo-hubspot-client-secret",
                "refresh_token": "demo-hubspot-refresh-token", "scopes": list(HUBSPOT_SCOPES)},
    "shopify": {"client_id": "demo-shopify-client-id", "client_secret": "demo-shopify-client-secret",
                "refresh_token": "shprt_demo_refresh_token", "scopes": list(SHOPIFY_SCOPES)},
}
SERVICE_ACCOUNT_EMAIL = "harmonia-reader@demo-project.iam.gserviceaccount.com"


@dataclass
class OAuthClient:
    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


@dataclass
class Issued:
    issuer: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False

    def live(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass
class RefreshRecord:
    issuer: str
    client_id: str
    scopes: tuple[str, ...]
    rotating: bool           # Shopify: each use spends it and hands out the next
    expires_at: float | None = None
    spent: bool = False
    revoked: bool = False


@dataclass
class ServiceAccount:
    client_email: str
    key_id: str
    private_pem: str
    public_key: Any


@dataclass
class EndpointFault:
    status: int
    error: str
    until: float


@dataclass
class OAuthState:
    clients: dict[tuple[str, str], OAuthClient] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshRecord] = field(default_factory=dict)
    access: dict[str, Issued] = field(default_factory=dict)
    service_accounts: dict[str, ServiceAccount] = field(default_factory=dict)
    lifetime: float | None = None
    faults: dict[str, EndpointFault] = field(default_factory=dict)
    # Scopes of the pasted (static) demo tokens, per source; Shopify's doctor reads them.
    static_scopes: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"shopify": SHOPIFY_SCOPES})
    requests: Counter[str] = field(default_factory=Counter)        # "issuer grant" -> token requests
    by_client: Counter[str] = field(default_factory=Counter)       # client id or service account -> issued
    refused: Counter[str] = field(default_factory=Counter)         # "issuer reason" -> refused token requests
    api_refusals: Counter[str] = field(default_factory=Counter)    # "source reason" -> API calls refused

    def register(self, issuer: str, client_id: str, client_secret: str, scopes: list[str] | tuple[str, ...],
                 refresh_token: str | None = None) -> None:
        self.clients[(issuer, client_id)] = OAuthClient(issuer, client_id, client_secret, tuple(scopes))
        if refresh_token:
            self.refresh_tokens[refresh_token] = RefreshRecord(issuer, client_id, tuple(scopes),
                                                               rotating=issuer == "shopify")

    def client(self, issuer: str, client_id: str, client_secret: str) -> OAuthClient | None:
        """The client when the id and secret match (compared in constant time), else None."""
        found = self.clients.get((issuer, client_id))
        if found is None or not secrets.compare_digest(found.client_secret, client_secret):
            return None
        return found

    def fault(self, issuer: str) -> EndpointFault | None:
        fault = self.faults.get(issuer)
        if fault is not None and time.monotonic() >= fault.until:
            del self.faults[issuer]
            return None
        return fault

    def issue(self, issuer: str, client_id: str, scopes: tuple[str, ...] | frozenset[str], grant: str
              ) -> tuple[str, float]:
        """A new access token and its lifetime in seconds."""
        self._prune()
        lifetime = self.lifetime if self.lifetime is not None else LIFETIMES[(issuer, grant)]
        token = PREFIXES[issuer] + secrets.token_urlsafe(24)
        self.access[token] = Issued(issuer, client_id, frozenset(scopes), time.time() + lifetime)
        self.by_client[client_id] += 1
        return token, lifetime

    def next_refresh_token(self, spent: RefreshRecord) -> str:
        """Shopify's rotation: the used refresh token is spent at once, a new one takes its place."""
        spent.spent = True
        token = "shprt_sim_" + secrets.token_urlsafe(24)
        self.refresh_tokens[token] = RefreshRecord(spent.issuer, spent.client_id, spent.scopes, rotating=True,
                                                   expires_at=time.time() + SHOPIFY_REFRESH_LIFETIME)
        return token

    def check(self, token: str) -> Issued | None:
        return self.access.get(token)

    def service_account(self, base_url: str) -> dict[str, Any]:
        """The demo service account's key file (made on first use), its token_uri at ``base_url``."""
        account = self.service_accounts.get(SERVICE_ACCOUNT_EMAIL)
        if account is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
            account = ServiceAccount(SERVICE_ACCOUNT_EMAIL, secrets.token_hex(20), pem, key.public_key())
            self.service_accounts[SERVICE_ACCOUNT_EMAIL] = account
        return {"type": "service_account", "project_id": "demo-project", "private_key_id": account.key_id,
                "private_key": account.private_pem, "client_email": account.client_email,
                "client_id": "100000000000000000001", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": f"{base_url.rstrip('/')}/google/token",
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/harmonia-reader",
                "universe_domain": "googleapis.com"}

    def reset_counters(self) -> None:
        for counter in (self.requests, self.by_client, self.refused, self.api_refusals):
            counter.clear()

    def stats(self) -> dict[str, Any]:
        now = time.time()
        by_issuer: dict[str, dict[str, int]] = {i: {} for i in ISSUERS}
        for key, count in self.requests.items():
            issuer, grant = key.split(" ", 1)
            by_issuer[issuer][grant] = count
        live = Counter(i.issuer for i in self.access.values() if i.live(now))
        return {"token_requests": by_issuer, "by_client": dict(self.by_client), "refused": dict(self.refused),
                "api_refusals": dict(self.api_refusals), "live_access_tokens": {i: live[i] for i in ISSUERS},
                "lifetime_seconds": self.lifetime}

    def _prune(self) -> None:
        if len(self.access) < 50_000:
            return
        cutoff = time.time() - 3600  # expired an hour ago: a client showing it now gets the unknown-token answer
        self.access = {t: i for t, i in self.access.items() if i.expires_at > cutoff}


async def form_of(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the last value of a repeated name wins)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def oauth_state(state: SimulatorState) -> OAuthState:
    found = state.throttles.get("oauth")
    if not isinstance(found, OAuthState):
        found = state.throttles["oauth"] = OAuthState(lifetime=state.config.token_lifetime_seconds)
        for issuer, demo in DEMO_OAUTH.items():
            found.register(issuer, demo["client_id"], demo["client_secret"], demo["scopes"], demo["refresh_token"])
    return found


def build_control_router(state: SimulatorState) -> APIRouter:
    router = APIRouter()

    @router.get("/__oauth")
    async def stats() -> dict[str, Any]:
        return oauth_state(state).stats()

    @router.post("/__oauth")
    async def configure(request: Request) -> Response:
        oauth = oauth_state(state)
        try:
            body = await request.json()
            if "lifetime_seconds" in body:
                value = body["lifetime_seconds"]
                oauth.lifetime = None if value is None else max(1.0, float(value))
            if isinstance(fail := body.get("fail"), dict):
                issuer = fail["issuer"]
                if issuer not in ISSUERS:
                    raise ValueError(f"issuer must be one of {', '.join(ISSUERS)}")
                oauth.faults[issuer] = EndpointFault(int(fail.get("status", 503)), str(fail.get("error", "")),
                                                     time.monotonic() + float(fail.get("seconds", 30)))
            if body.get("clear_faults"):
                oauth.faults.clear()
            for source, scopes in (body.get("static_scopes") or {}).items():
                oauth.static_scopes[str(source)] = tuple(str(s) for s in scopes)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return JSONResponse({"error": f"bad oauth settings: {exc}"}, status_code=400)
        return JSONResponse({"ok": True, **oauth.stats()})

    @router.post("/__oauth/clients")
    async def register(request: Request) -> Response:
        try:
            body = await request.json()
            if body["issuer"] not in ISSUERS:
                raise ValueError(f"issuer must be one of {', '.join(ISSUERS)}")
            oauth_state(state).register(body["issuer"], str(body["client_id"]), str(body["client_secret"]),
                                        [str(s) for s in body.get("scopes", [])], body.get("refresh_token"))
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad client: {exc}"}, status_code=400)
        return JSONResponse({"ok": True})

    @router.post("/__oauth/revoke")
    async def revoke(request: Request) -> Response:
        oauth = oauth_state(state)
        body = await request.json()
        revoked = 0
        if body.get("refresh"):
            for token, record in oauth.refresh_tokens.items():
                if token == body.get("token") or record.issuer == body.get("issuer"):
                    record.revoked, revoked = True, revoked + 1
        else:
            now = time.time()
            for token, issued in oauth.access.items():
                if issued.live(now) and (token == body.get("token") or issued.issuer == body.get("issuer")):
                    issued.revoked, revoked = True, revoked + 1
        return JSONResponse({"ok": True, "revoked": revoked})

    @router.get("/__oauth/service-account.json")
    async def service_account(request: Request) -> dict[str, Any]:
        return oauth_state(state).service_account(str(request.base_url))

    return router
