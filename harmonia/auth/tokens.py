"""Bearer tokens: verify them into a Principal (HS256 secret or an RS256/ES256 JWKS), mint dev ones.

    verifier = TokenVerifier(settings.auth)
    principal = verifier.verify(raw_token)            # raises Unauthenticated
    token = mint_token(secret, roles=["analyst"], sub="ana", ttl=3600)
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence

import jwt

from harmonia.auth.principal import Principal
from harmonia.errors import Unauthenticated
from harmonia.settings import AuthSettings

ASYMMETRIC = ["RS256", "ES256"]
VERIFIED_TOKENS = 10_000  # tokens remembered as verified (LRU), each until its own exp


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        if self._jwks is None and not settings.jwt_secret:
            raise ValueError("auth needs jwt_secret or jwks_url")
        # A dashboard sends the same token with every query: checking its signature again each time
        # was a third of the CPU of a cached answer. The same bytes verify the same way until exp.
        self._verified: OrderedDict[str, tuple[Principal, float, float]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, not_before, expires = known
            if not_before <= time.time() < expires:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]  # expired (or not yet valid): let the full check say why
        principal, claims = self._verify(token)
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if isinstance(exp, int | float) and isinstance(nbf, int | float):
            self._verified[token] = (principal, float(nbf), float(exp))
            if len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, dict[str, object]]:
        options = {"require": ["exp", "sub"], "verify_aud": self.settings.audience is not None}
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(token, key, algorithms=ASYMMETRIC, audience=self.settings.audience,
                                    issuer=self.settings.issuer, options=options)  # type: ignore[arg-type]
            else:
                claims = jwt.decode(token, self.settings.jwt_secret or "", algorithms=["HS256"],
                                    audience=self.settings.audience, issuer=self.settings.issuer,
                                    options=options)  # type: ignore[arg-type]
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired") from None
        except jwt.PyJWKClientError:
            raise Unauthenticated("The token's signing key could not be verified") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("The token is not valid") from None
        roles = claims.get("roles", [])
        scope = claims.get("scope", "")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles) or not isinstance(scope, str):
            raise Unauthenticated("The token's roles or scope claim is malformed")
        return Principal(sub=str(claims["sub"]), roles=frozenset(roles), scopes=frozenset(scope.split())), claims


def mint_token(
    secret: str,
    *,
    roles: Sequence[str],
    sub: str,
    scopes: Sequence[str] = (),
    ttl: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": sub, "roles": list(roles), "scope": " ".join(scopes), "iat": now,
                                 "exp": now + ttl}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
