"""The issuer's JSON Web Key Set, fetched with async httpx and cached (PyJWKClient would block the loop).

    keys = JwksKeys("https://issuer.example/.well-known/jwks.json", ttl=300, min_refresh_interval=30)
    key = await keys.key_for(kid="2026-11", alg="RS256")    # a jwt.PyJWK, or None when unknown

Keys are cached for ``ttl`` seconds. A token naming a ``kid`` we do not hold triggers a refresh
(the issuer rotated its keys), but at most once per ``min_refresh_interval`` so that a stream of
tokens with made-up kids cannot turn the gateway into a load generator against the issuer. When a
refresh fails (issuer down, bad JSON) the keys already held stay in use: an outage of the issuer
must not log every user out. Concurrent requests share one refresh.

Before any set has been fetched (a gateway started while the issuer is down) there is no key to
check any token with: ``key_for`` raises ``KeySetUnavailable`` (a 503 with Retry-After, not a 401:
the token is not known to be bad), and the fetch is retried after 1, 2, 4, ... seconds, never more
often, up to ``min_refresh_interval``, so that the gateway recovers within seconds of the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from harmonia.errors import KeySetUnavailable

log = logging.getLogger("harmonia.auth.jwks")


class JwksKeys:
    def __init__(self, url: str, *, ttl: float = 300.0, min_refresh_interval: float = 30.0,
                 client: httpx.AsyncClient | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0))
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None     # last successful fetch
        self._attempted_at: float | None = None   # last attempt, successful or not
        self._failures = 0                         # failed attempts since the last success
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK | None:
        """The key to verify a token signed with ``alg`` under ``kid`` (None: no such key, even after a
        refresh). Raises KeySetUnavailable while no key set has ever been fetched."""
        if self._fetched_at is None or self._clock() - self._fetched_at > self.ttl:
            await self._refresh()
        key = self._pick(kid, alg)
        if key is None and self._may_refresh(self._clock()):
            await self._refresh()  # an unknown kid: perhaps the issuer rotated its keys
            key = self._pick(kid, alg)
        if key is None and self._fetched_at is None:
            raise KeySetUnavailable(retry_after=self._next_attempt_in(self._clock()))
        return key

    def _pick(self, kid: str | None, alg: str) -> jwt.PyJWK | None:
        if kid is not None:
            key = self._keys.get(kid)
        else:
            # A token without a kid is only unambiguous against a set of one key.
            key = next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return key if key is not None and key.algorithm_name == alg else None

    def _may_refresh(self, now: float) -> bool:
        return self._next_attempt_in(now) <= 0

    def _next_attempt_in(self, now: float) -> float:
        if self._attempted_at is None:
            return 0.0
        interval = self.min_refresh_interval
        if self._fetched_at is None:  # nothing to verify with meanwhile: back off from 1 s, not the full interval
            interval = min(interval, 2.0 ** max(0, self._failures - 1))
        return self._attempted_at + interval - now

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._clock()
            if not self._may_refresh(now):
                return  # refreshed (or tried) a moment ago, perhaps by a concurrent request
            self._attempted_at = now
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, jwt.PyJWKError) as exc:
                # Keep what we have: logged for the operator, never shown to a client.
                self._failures += 1
                log.warning("JWKS refresh from %s failed (%s); keeping %d cached key(s)",
                            self.url, type(exc).__name__, len(self._keys))
                return
            self._keys = keys
            self._fetched_at = now
            self._failures = 0

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        response = await self._client.get(self.url, headers={"Accept": "application/json"})
        response.raise_for_status()
        data: Any = response.json()
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError("not a JWK set")
        keys: dict[str | None, jwt.PyJWK] = {}
        for jwk in data["keys"]:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(jwk)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # a key type we do not support (e.g. "oct", "OKP") is skipped, not fatal
            keys[jwk.get("kid")] = key
        if not keys:
            raise ValueError("no usable signing key in the set")
        return keys

    async def aclose(self) -> None:
        await self._client.aclose()
