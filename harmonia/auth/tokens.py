"""Bearer tokens: verify them into a Principal (HS256 secret or an RS256/ES256 JWKS), mint dev ones.

    verifier = TokenVerifier(settings.auth)
    principal = await verifier.verify(raw_token)      # raises Unauthenticated with our own words
    token = mint_token(secret, roles=["analyst"], sub="ana", ttl=3600)

The accepted algorithms come from configuration, never from the token's header: HS256 with a
secret, RS256/ES256 with a JWKS (``auth.algorithms`` narrows either). With ``jwks_url`` set the
HS256 secret is not consulted at all, so a token signed with the public key as an HMAC secret
(the classic algorithm-confusion attack) has nothing to match. ``exp`` and ``sub`` are required,
``nbf`` honoured, ``iss``/``aud`` checked when configured (a JWKS needs ``aud``, and a secret must
not be short or published: ``harmonia.auth.key_checks``), all with a small leeway for clock skew.
While the JWKS has never been fetched (issuer down at start), a token that is not plainly bad
(malformed, expired, no ``exp``) raises ``KeySetUnavailable``: 503 and retry, not 401 and log in.
pyjwt's exception text stays in the server's log: clients get one of the fixed messages below.
A token that verified is remembered (LRU, ``VERIFIED_TOKENS``) for the window it is valid in, so a
repeat costs a dict lookup instead of a signature check; with a JWKS, only while the key set still
serves the very key it was verified with: a key the issuer withdraws stops its tokens at the next
refresh of the set, remembered or not.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from harmonia.auth.jwks import JwksKeys
from harmonia.auth.key_checks import check_token_keys
from harmonia.auth.principal import Principal
from harmonia.errors import KeySetUnavailable, Unauthenticated
from harmonia.settings import AuthSettings

SYMMETRIC = ("HS256",)
ASYMMETRIC = ("RS256", "ES256")

EXPIRED = "The token has expired"
NOT_YET_VALID = "The token is not valid yet"
INVALID = "The token is not valid"
BAD_SIGNATURE = "The token's signature could not be verified"
WRONG_ISSUER = "The token was issued by an issuer this API does not trust"
WRONG_AUDIENCE = "The token is not meant for this API"
MISSING_CLAIM = "The token lacks a required claim (exp, sub)"
BAD_CLAIMS = "The token's roles or scope claim is malformed"
# pyjwt's failures -> the message a client gets, most specific first (pyjwt's text never leaves the server).
REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, EXPIRED),
    (jwt.ImmatureSignatureError, NOT_YET_VALID),
    (jwt.InvalidSignatureError, BAD_SIGNATURE),
    (jwt.InvalidIssuerError, WRONG_ISSUER),
    (jwt.InvalidAudienceError, WRONG_AUDIENCE),
    (jwt.MissingRequiredClaimError, MISSING_CLAIM),
    (jwt.InvalidTokenError, INVALID),
)
VERIFIED_TOKENS = 10_000  # tokens remembered as verified (LRU), each until its own exp


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    not_before: float
    expires: float
    key: jwt.PyJWK | str   # what verified it


class TokenVerifier:
    def __init__(self, settings: AuthSettings, jwks: JwksKeys | None = None) -> None:
        self.settings = settings
        check_token_keys(settings)  # no key, a published or short secret, a key set without audience
        if settings.jwks_url:
            self.algorithms = _allowed(settings.algorithms, ASYMMETRIC)
            self._jwks: JwksKeys | None = jwks or JwksKeys(
                settings.jwks_url, ttl=settings.jwks_ttl_seconds,
                min_refresh_interval=settings.jwks_min_refresh_seconds)
            self._secret: str | None = None
        else:
            self.algorithms = _allowed(settings.algorithms, SYMMETRIC)
            self._jwks, self._secret = None, settings.jwt_secret
        self._options: dict[str, Any] = {"require": ["exp", "sub"], "verify_aud": settings.audience is not None,
                                         "verify_iss": settings.issuer is not None}
        # A dashboard sends the same token with every query: checking its signature again each time
        # was a third of the CPU of a cached answer. The same bytes verify the same way until exp.
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            if known.not_before <= time.time() < known.expires and await self._still_served(known):
                self._verified.move_to_end(token)
                return known.principal
            del self._verified[token]  # expired, not yet valid or its key withdrawn: the full check says why
        principal, claims, key = await self._verify(token)
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if isinstance(exp, int | float) and isinstance(nbf, int | float):
            # The same window the full check allows (leeway included), so a remembered token is
            # accepted exactly when a fresh check would accept it.
            leeway = self.settings.leeway_seconds
            self._verified[token] = _Verified(principal, float(nbf) - leeway, float(exp) + leeway, key)
            if len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        return principal

    async def _still_served(self, known: _Verified) -> bool:
        """With a JWKS: the set (refreshed as usual) still serves the key the token was verified with."""
        if self._jwks is None or not isinstance(known.key, jwt.PyJWK):
            return True  # the HS256 secret is the process's own
        kid = known.key.key_id
        return await self._jwks.key_for(kid, known.key.algorithm_name) is known.key

    async def _verify(self, token: str) -> tuple[Principal, dict[str, Any], jwt.PyJWK | str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated(INVALID) from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise Unauthenticated(INVALID)  # "none", HS256 against a key set, anything not configured
        key: jwt.PyJWK | str
        if self._jwks is not None:
            kid = header.get("kid")
            try:
                found = await self._jwks.key_for(kid if isinstance(kid, str) else None, alg)
            except KeySetUnavailable:
                self._refuse_if_expired(token)  # no key could make an expired token good: that is a 401
                raise
            if found is None:
                raise Unauthenticated(BAD_SIGNATURE)
            key = found
        else:
            key = self._secret or ""
        claims = self._decode(token, key, alg)
        roles = claims.get("roles", [])
        scope = claims.get("scope", "")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles) or not isinstance(scope, str):
            raise Unauthenticated(BAD_CLAIMS)
        client = claims.get(self.settings.client_claim) if self.settings.client_claim else None
        principal = Principal(sub=str(claims["sub"]), roles=frozenset(roles), scopes=frozenset(scope.split()),
                              client=client if isinstance(client, str) else None)
        return principal, claims, key

    def _refuse_if_expired(self, token: str) -> None:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise Unauthenticated(INVALID) from None
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise Unauthenticated(MISSING_CLAIM)
        if exp + self.settings.leeway_seconds <= time.time():
            raise Unauthenticated(EXPIRED)

    def _decode(self, token: str, key: jwt.PyJWK | str, alg: str) -> dict[str, Any]:
        s = self.settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], audience=s.audience, issuer=s.issuer, leeway=s.leeway_seconds,
                options=self._options)  # type: ignore[arg-type]  # pyjwt types options as a TypedDict
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(next(message for kind, message in REASONS if isinstance(exc, kind))) from None
        return claims

    async def aclose(self) -> None:
        if self._jwks is not None:
            await self._jwks.aclose()


def _allowed(configured: Sequence[str] | None, family: tuple[str, ...]) -> frozenset[str]:
    if configured is None:
        return frozenset(family)
    unknown = sorted(set(configured) - set(family))
    if unknown:
        raise ValueError(f"auth.algorithms: {', '.join(unknown)} cannot be used with this key source "
                         f"(allowed: {', '.join(family)})")
    return frozenset(configured)


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
