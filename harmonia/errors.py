"""Harmonia's one error tree; every error a client sees maps to a contract code.

    HarmoniaError                      code (extensions.code)
    ├── Unauthenticated                UNAUTHENTICATED
    ├── Forbidden                      FORBIDDEN
    ├── BadUserInput                   BAD_USER_INPUT
    ├── CostLimitExceeded              COST_LIMIT_EXCEEDED
    ├── DepthLimitExceeded             DEPTH_LIMIT_EXCEEDED
    ├── Throttled                      THROTTLED
    ├── StateUnavailable               UPSTREAM_UNAVAILABLE  (the shared Redis, for a write that must not
    │                                                     run without it: idempotency keys, erasure jobs)
    └── UpstreamError                  (abstract: something a SaaS API did)
        ├── UpstreamUnavailable        UPSTREAM_UNAVAILABLE  (5xx, connection refused/reset, bad body)
        │   ├── UpstreamAuthFailed     UPSTREAM_UNAVAILABLE  (401/403 from the SaaS: our credentials)
        │   │   └── CredentialsUnavailable UPSTREAM_UNAVAILABLE (no access token: the source's token
        │   │                                                  endpoint refused to renew it, or failed)
        │   └── KeySetUnavailable      UPSTREAM_UNAVAILABLE  (the token issuer's JWKS, never fetched yet,
        │                                                     cannot be fetched: HTTP 503, not 401)
        ├── UpstreamTimeout            UPSTREAM_TIMEOUT
        └── UpstreamRateLimited        UPSTREAM_RATE_LIMITED (429 that retries could not outwait, or a
                                                          quota Harmonia metered as spent: GA4's tokens)

Connectors (``harmonia.sources``) translate every httpx failure and every non-success
status into this tree at their boundary; nothing above them sees an ``httpx`` exception.
Messages are written for clients: they name the source, never an upstream body or secret.
"""

from __future__ import annotations

import math
from typing import Any


class HarmoniaError(Exception):
    """Base of every error Harmonia reports to a client."""

    code = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = extensions


class Unauthenticated(HarmoniaError):
    code = "UNAUTHENTICATED"


class Forbidden(HarmoniaError):
    code = "FORBIDDEN"


class BadUserInput(HarmoniaError):
    code = "BAD_USER_INPUT"


class CostLimitExceeded(HarmoniaError):
    code = "COST_LIMIT_EXCEEDED"


class DepthLimitExceeded(HarmoniaError):
    code = "DEPTH_LIMIT_EXCEEDED"


class Throttled(HarmoniaError):
    code = "THROTTLED"


class StateUnavailable(HarmoniaError):
    """The shared state (Redis) stayed away longer than a failover takes, for a write that needs it.

    Not an ``UpstreamError``: no SaaS failed, and no stale record may stand in for it."""

    code = "UPSTREAM_UNAVAILABLE"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, dependency="redis", retryable=True, **extensions)


class UpstreamError(HarmoniaError):
    """A SaaS API failed us; ``source`` names which one (``hubspot``, ``shopify``, ...)."""

    code = "UPSTREAM_UNAVAILABLE"

    def __init__(self, source: str, message: str, **extensions: Any) -> None:
        super().__init__(message, source=source, **extensions)
        self.source = source


class UpstreamUnavailable(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"


class UpstreamAuthFailed(UpstreamUnavailable):
    """The SaaS refused our credentials: an operator problem, reported as unavailable."""


class CredentialsUnavailable(UpstreamAuthFailed):
    """No usable access token for a source: its token endpoint refused to renew it (``permanent``: a
    refresh token revoked or spent, a wrong client secret) or could not be reached. ``reason`` (an OAuth
    error code such as ``invalid_grant``, or ``unreachable``) is for logs and ``harmonia doctor``; the
    client sees only that the source is unavailable."""

    def __init__(self, source: str, reason: str, *, permanent: bool) -> None:
        super().__init__(source, f"{source}: Harmonia could not obtain an access token")
        self.reason = reason
        self.permanent = permanent


class KeySetUnavailable(UpstreamUnavailable):
    """No key to check a token with because the issuer's key set cannot be fetched: the token is not
    known to be bad, so the client is told to retry (503), not to log in again (401)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__("jwks", "The token issuer's signing keys cannot be fetched right now; try again shortly",
                         retryAfterSeconds=self.retry_after)


class UpstreamTimeout(UpstreamError):
    code = "UPSTREAM_TIMEOUT"


class UpstreamRateLimited(UpstreamError):
    code = "UPSTREAM_RATE_LIMITED"

    def __init__(self, source: str, message: str, retry_after: float | None = None, **extensions: Any) -> None:
        if retry_after is not None:
            extensions["retryAfterSeconds"] = max(1, math.ceil(retry_after))
        super().__init__(source, message, **extensions)
        self.retry_after = retry_after


CONTRACT_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "COST_LIMIT_EXCEEDED",
        "DEPTH_LIMIT_EXCEEDED",
        "THROTTLED",
        "BAD_USER_INPUT",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "UPSTREAM_UNAVAILABLE",
        "UPSTREAM_TIMEOUT",
        "UPSTREAM_RATE_LIMITED",
        "INTERNAL",
    }
)
