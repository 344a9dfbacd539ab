"""A source's settings as its credential, by the contract's precedence: service account, OAuth, token.

    credential = credential_for("ga4", settings.sources.ga4, redis=shared_client)
    credential.kind        # "jwt_bearer" | "refresh_token" | "client_credentials" | "static"

Token URLs default per vendor: Google's ``https://oauth2.googleapis.com/token`` (a key file names its
own ``token_uri``), HubSpot's ``{BASE_URL}/oauth/v1/token``, Shopify's ``{BASE_URL}/admin/oauth/access_token``.
An incomplete configuration (a client id without its secret, a HubSpot or Google OAuth client without a
refresh token, a broken key file) is a ``ValueError`` naming the setting to fix, raised at startup.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from harmonia.credentials.credential import AuthHeader, Credential, StaticCredential
from harmonia.credentials.endpoint import TokenEndpoint
from harmonia.credentials.grants import ClientCredentialsGrant, Grant, JwtBearerGrant, RefreshTokenGrant
from harmonia.credentials.renewing import RenewingCredential, chain_origin
from harmonia.credentials.sealed import Sealer
from harmonia.credentials.service_account import ServiceAccountKey
from harmonia.credentials.store import MemoryTokenStore, RedisTokenStore, TokenStore
from harmonia.settings import OAuthSettings, SourceSettings
from harmonia.shared_state import Client

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
# The one scope each Google API needs; a service account asks for it, a refresh token must carry it.
GOOGLE_SCOPES = {"ga4": "https://www.googleapis.com/auth/analytics.readonly",
                 "googleads": "https://www.googleapis.com/auth/adwords"}
RENEWABLE = ("hubspot", "shopify", "ga4", "googleads")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def auth_header(source: str) -> AuthHeader:
    return AuthHeader("X-Shopify-Access-Token", "") if source == "shopify" else AuthHeader()


def default_token_url(source: str, base_url: str) -> str:
    base = base_url.rstrip("/")
    if source == "hubspot":
        return f"{base}/oauth/v1/token"
    if source == "shopify":
        return f"{base}/admin/oauth/access_token"
    return GOOGLE_TOKEN_URL


@dataclass(frozen=True)
class Plan:
    """What a renewing credential is made of, read from the settings without touching the network."""

    grant: Grant
    url: str
    secret: str = field(repr=False)
    identity: str
    refresh_token: str | None = field(default=None, repr=False)

    @property
    def credential_id(self) -> str:
        return hashlib.sha256(f"{self.grant.kind}|{self.url}|{self.identity}".encode()).hexdigest()[:16]


def plan_for(source: str, settings: SourceSettings) -> Plan | None:
    """The renewing credential the settings describe, or None for a pasted token; a ``ValueError``
    naming the setting to fix when they describe one incompletely."""
    key_file: str | None = getattr(settings, "service_account_file", None)
    oauth: OAuthSettings | None = getattr(settings, "oauth", None)
    if key_file:
        key = ServiceAccountKey.from_file(key_file)
        return Plan(JwtBearerGrant(key, (GOOGLE_SCOPES[source],)), key.token_uri, key.pem,
                    f"{source}|{key.client_email}|{GOOGLE_SCOPES[source]}")
    if oauth is not None and oauth.configured:
        grant, refresh = _oauth_grant(source, oauth)
        # A refresh token names one installation (a HubSpot portal, a shop): two of the same app stay apart.
        return Plan(grant, oauth.token_url or default_token_url(source, settings.base_url), _secret(source, oauth),
                    f"{source}|{oauth.client_id}|{chain_origin(refresh) or ''}", refresh)
    return None


def check_credentials(sources: object) -> list[str]:
    """Every source's credential settings, checked at startup (``harmonia serve``): ValueError if incomplete;
    returns warnings (a token endpoint reached without TLS, off this machine)."""
    warnings = []
    for name in RENEWABLE:
        plan = plan_for(name, getattr(sources, name))
        url = httpx.URL(plan.url) if plan is not None else None
        if url is not None and url.scheme != "https" and url.host not in LOOPBACK:
            warnings.append(f"{name}: the token endpoint {url.scheme}://{url.host} is not HTTPS: the client secret "
                            "and refresh token would cross the network in clear")
    return warnings


def credential_for(source: str, settings: SourceSettings, *, transport: httpx.AsyncBaseTransport | None = None,
                   redis_client: Client | None = None) -> Credential:
    header = auth_header(source)
    plan = plan_for(source, settings)
    if plan is None:
        token: Any = getattr(settings, "token", "")
        return StaticCredential(source, str(token), header)
    cid = plan.credential_id
    store: TokenStore = (RedisTokenStore(redis_client, cid, Sealer(plan.secret, context=cid))
                         if redis_client is not None else MemoryTokenStore())
    client = httpx.AsyncClient(transport=transport, follow_redirects=False)
    return RenewingCredential(source, plan.grant, TokenEndpoint(source, plan.url, client), store, header=header,
                              refresh_token=plan.refresh_token)


def _setting(source: str, name: str) -> str:
    return f"HARMONIA_SOURCES__{source.upper()}__OAUTH__{name}"


def _secret(source: str, oauth: OAuthSettings) -> str:
    secret = oauth.client_secret.get_secret_value() if oauth.client_secret is not None else ""
    if not secret:
        raise ValueError(f"{_setting(source, 'CLIENT_SECRET')} is required with {_setting(source, 'CLIENT_ID')}")
    return secret


def _oauth_grant(source: str, oauth: OAuthSettings) -> tuple[Grant, str | None]:
    client_id, secret = oauth.client_id or "", _secret(source, oauth)
    refresh = oauth.refresh_token.get_secret_value() if oauth.refresh_token is not None else ""
    if refresh:
        return RefreshTokenGrant(client_id, secret), refresh
    if source == "shopify":
        return ClientCredentialsGrant(client_id, secret), None
    vendor = "HubSpot" if source == "hubspot" else "Google"
    raise ValueError(f"{_setting(source, 'REFRESH_TOKEN')} is required: {vendor} issues server tokens only "
                     "through the refresh-token grant (or, for Google, a service account key file)")
