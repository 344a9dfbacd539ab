"""An access token as a source uses it: its value, when it expires, and what it may do.

    token = AccessToken("ya29.a0...", expires_at=time.time() + 3599, scopes=frozenset({"...analytics.readonly"}))
    token.due(time.time())       # True once it is close enough to expiry to renew it
    token.expired(time.time())   # True once the API would refuse it

The value never appears in a repr, so a token logged by mistake shows no secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Renew this far ahead of expiry, but never earlier than a fifth of the token's life before it: an hour's
# Google token is renewed with 5 minutes left (google-auth uses 3m45s), a 3-second test token with 0.6 s.
RENEW_AHEAD_SECONDS = 300.0
RENEW_AHEAD_FRACTION = 0.2
# Time taken off every expiry for clock skew between us and the token endpoint, and for the request in flight.
EXPIRY_SKEW_SECONDS = 0.25

_SCOPE_SEPARATORS = re.compile(r"[\s,]+")


def parse_scopes(raw: object) -> frozenset[str]:
    """Google's space-separated ``scope`` and Shopify's comma-separated one alike."""
    if isinstance(raw, list | tuple):
        return frozenset(str(s).strip() for s in raw if str(s).strip())
    if not isinstance(raw, str):
        return frozenset()
    return frozenset(s for s in _SCOPE_SEPARATORS.split(raw) if s)


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float | None = None      # epoch seconds; None: does not expire (a pasted static token)
    scopes: frozenset[str] = frozenset()  # as the token endpoint granted them; empty when it did not say
    issued_at: float = 0.0

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at - EXPIRY_SKEW_SECONDS

    def due(self, now: float) -> bool:
        """Time to renew: within the renewal margin of expiry (or past it)."""
        if self.expires_at is None:
            return False
        life = max(0.0, self.expires_at - self.issued_at)
        ahead = min(RENEW_AHEAD_SECONDS, life * RENEW_AHEAD_FRACTION)
        return now >= self.expires_at - max(ahead, EXPIRY_SKEW_SECONDS)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
