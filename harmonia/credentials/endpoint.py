"""A token endpoint: one form-encoded POST, its answer read as RFC 6749 section 5 says.

    endpoint = TokenEndpoint("hubspot", "https://api.hubapi.com/oauth/v1/token", client)
    answer = await endpoint.post({"grant_type": "refresh_token", ...})   # the JSON object
    # or CredentialsUnavailable(reason="invalid_grant", permanent=True) / (reason="unreachable", permanent=False)

A 4xx is a refusal that will not go away by itself (a revoked or spent refresh token, a wrong secret);
a 5xx, a 429, a timeout or an unreadable body is a failure worth retrying. Only the standard error
code (``error``, or HubSpot's ``status``) is kept, never the description: bodies may echo what we sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from harmonia.errors import CredentialsUnavailable

# Kept only when it is a code, never free text that could echo what was sent: RFC 6749's (and Google's
# internal_failure), or an upper-case code such as HubSpot's BAD_REFRESH_TOKEN.
OAUTH_CODES = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                         "unsupported_grant_type", "invalid_scope", "access_denied", "server_error",
                         "temporarily_unavailable", "internal_failure"})
_UPPER_CODE = re.compile(r"^[A-Z][A-Z_]{2,47}$")
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class TokenEndpoint:
    def __init__(self, source: str, url: str, client: httpx.AsyncClient) -> None:
        self.source = source
        self.url = url
        self.client = client

    async def post(self, form: Mapping[str, str]) -> dict[str, Any]:
        try:
            response = await self.client.post(self.url, data=dict(form), timeout=TIMEOUT,
                                              headers={"Accept": "application/json"})
        except (httpx.HTTPError, OSError):
            raise CredentialsUnavailable(self.source, "unreachable", permanent=False) from None
        body = _json(response)
        status = response.status_code
        if 200 <= status < 300:
            if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) \
                    or not body["access_token"]:
                raise CredentialsUnavailable(self.source, "unreadable_answer", permanent=False)
            return body
        if status == 429 or status >= 500:
            raise CredentialsUnavailable(self.source, f"http_{status}", permanent=False)
        raise CredentialsUnavailable(self.source, _error_code(body) or f"http_{status}", permanent=True)

    async def aclose(self) -> None:
        await self.client.aclose()


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _error_code(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    for key in ("error", "status"):
        code = body.get(key)
        if isinstance(code, str) and (code in OAUTH_CODES or _UPPER_CODE.match(code)):
            return code
    return None
