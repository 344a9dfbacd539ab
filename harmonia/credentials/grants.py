"""How a new access token is obtained: the OAuth 2.0 grants the five vendors issue for servers.

    grant = RefreshTokenGrant(client_id, client_secret)            # Google, HubSpot, Shopify offline tokens
    grant = ClientCredentialsGrant(client_id, client_secret)       # Shopify Dev Dashboard apps
    grant = JwtBearerGrant(ServiceAccountKey.from_file(path), scopes)   # a Google service account
    issued = await grant.exchange(endpoint, refresh_token)         # Issued(token, refresh_token)

Each is one form-encoded POST (RFC 6749 section 6 and 4.4, RFC 7523 section 2.1). A refresh token the
endpoint rotates comes back in ``Issued.refresh_token``; Google and HubSpot send the same one or none,
Shopify a new one each time, single-use: the caller must keep it before anything else.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from harmonia.credentials.endpoint import TokenEndpoint
from harmonia.credentials.service_account import ServiceAccountKey
from harmonia.credentials.token import AccessToken, parse_scopes
from harmonia.errors import CredentialsUnavailable

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# When an answer has no expires_in (RFC 6749 makes it optional): renew after this long.
DEFAULT_LIFETIME = 3600.0


@dataclass(frozen=True, slots=True)
class Issued:
    token: AccessToken
    refresh_token: str | None = field(default=None, repr=False)  # set when the endpoint sent one


class Grant(Protocol):
    @property
    def kind(self) -> str: ...  # "refresh_token", "client_credentials", "jwt_bearer"

    @property
    def uses_refresh_token(self) -> bool: ...

    async def exchange(self, endpoint: TokenEndpoint, refresh_token: str | None) -> Issued: ...


def issued_from(answer: dict[str, Any], *, sent_at: float, asked_scopes: Collection[str] = ()) -> Issued:
    """A token endpoint's JSON answer as an ``Issued``; lifetime counted from when the request left."""
    try:
        lifetime = float(answer.get("expires_in", DEFAULT_LIFETIME))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    # RFC 6749 5.1: scope may be left out when it is what was asked for.
    scopes = parse_scopes(answer.get("scope")) if "scope" in answer else frozenset(asked_scopes)
    refresh = answer.get("refresh_token")
    token = AccessToken(str(answer["access_token"]), expires_at=sent_at + max(0.0, lifetime), scopes=scopes,
                        issued_at=sent_at)
    return Issued(token, refresh if isinstance(refresh, str) and refresh else None)


@dataclass(frozen=True)
class RefreshTokenGrant:
    client_id: str
    client_secret: str = field(repr=False)
    kind: str = "refresh_token"
    uses_refresh_token: bool = True

    async def exchange(self, endpoint: TokenEndpoint, refresh_token: str | None) -> Issued:
        if not refresh_token:
            raise CredentialsUnavailable(endpoint.source, "no_refresh_token", permanent=True)
        sent_at = time.time()
        answer = await endpoint.post({"grant_type": "refresh_token", "client_id": self.client_id,
                                      "client_secret": self.client_secret, "refresh_token": refresh_token})
        return issued_from(answer, sent_at=sent_at)


@dataclass(frozen=True)
class ClientCredentialsGrant:
    client_id: str
    client_secret: str = field(repr=False)
    kind: str = "client_credentials"
    uses_refresh_token: bool = False

    async def exchange(self, endpoint: TokenEndpoint, refresh_token: str | None) -> Issued:
        sent_at = time.time()
        answer = await endpoint.post({"grant_type": "client_credentials", "client_id": self.client_id,
                                      "client_secret": self.client_secret})
        return issued_from(answer, sent_at=sent_at)


@dataclass(frozen=True)
class JwtBearerGrant:
    key: ServiceAccountKey
    scopes: tuple[str, ...]
    kind: str = "jwt_bearer"
    uses_refresh_token: bool = False

    async def exchange(self, endpoint: TokenEndpoint, refresh_token: str | None) -> Issued:
        sent_at = time.time()
        assertion = self.key.assertion(self.scopes, now=int(sent_at))
        answer = await endpoint.post({"grant_type": JWT_BEARER, "assertion": assertion})
        return issued_from(answer, sent_at=sent_at, asked_scopes=self.scopes)
