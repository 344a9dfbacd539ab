"""What a connector asks for its auth header: a static token, or one that renews itself.

    credential = StaticCredential("ga4", "ya29.pasted", header="Authorization", prefix="Bearer ")
    token = await credential.token()          # the current AccessToken (renewed first when due)
    headers = credential.headers_for(token)   # {"Authorization": "Bearer ya29..."}
    await credential.rejected(token)          # the API answered 401 to it: renew once, then retry

``SourceHttp`` calls these on every request; ``RenewingCredential`` (``renewing.py``) is the
renewing kind.
"""

from __future__ import annotations

from typing import Protocol

from harmonia.credentials.token import AccessToken


class Credential(Protocol):
    source: str
    kind: str          # "static", "refresh_token", "client_credentials", "jwt_bearer"
    renewable: bool    # False: a 401 is final (a pasted token cannot be renewed)

    async def token(self) -> AccessToken: ...

    def headers_for(self, token: AccessToken) -> dict[str, str]: ...

    async def rejected(self, token: AccessToken) -> None: ...

    async def aclose(self) -> None: ...


class AuthHeader:
    """The header a source takes its token in: ``Authorization: Bearer <t>`` or Shopify's own."""

    def __init__(self, name: str = "Authorization", prefix: str = "Bearer ") -> None:
        self.name = name
        self.prefix = prefix
        self._last: tuple[AccessToken, dict[str, str]] | None = None

    def __call__(self, token: AccessToken) -> dict[str, str]:
        last = self._last
        if last is not None and last[0] is token:
            return last[1]  # the same token for thousands of calls: one dict
        headers = {self.name: f"{self.prefix}{token.value}"}
        self._last = (token, headers)
        return headers


class StaticCredential:
    """A pasted token (``HARMONIA_SOURCES__<S>__TOKEN``): sent as is, never renewed."""

    kind = "static"
    renewable = False

    def __init__(self, source: str, value: str, header: AuthHeader | None = None) -> None:
        self.source = source
        self._token = AccessToken(value)
        self._header = header or AuthHeader()

    async def token(self) -> AccessToken:
        return self._token

    def headers_for(self, token: AccessToken) -> dict[str, str]:
        return self._header(token)

    async def rejected(self, token: AccessToken) -> None:
        return None

    async def aclose(self) -> None:
        return None
