"""A credential that renews its access token before it expires, one renewal at a time across instances.

    credential = RenewingCredential("hubspot", RefreshTokenGrant(cid, secret), endpoint, store,
                                    refresh_token=configured)
    token = await credential.token()      # renewed ahead of expiry; meanwhile the current one serves
    await credential.rejected(token)      # after a 401: one renewal, however many calls saw the 401

The order of things, per renewal:
1. Another instance may have renewed already: a fresh token in the store is adopted, nothing is sent.
2. Otherwise take the store's lock (Redis ``SET NX``; waiting for a peer that holds it, and adopting
   what it saves), look again, then ask the token endpoint.
3. Save the new token and a rotated refresh token at once, before anyone uses them: a restart or
   another instance then continues the chain instead of replaying a spent refresh token.

In this process a renewal is single-flight: callers share one task. While the current token still
works, callers keep using it and the renewal runs beside them; only an expired (or missing) token
makes them wait. A failed renewal is retried after a backoff (0.5 s doubling to 30 s), not per call.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

from harmonia.credentials.credential import AuthHeader
from harmonia.credentials.endpoint import TokenEndpoint
from harmonia.credentials.grants import Grant, Issued
from harmonia.credentials.store import Saved, TokenStore
from harmonia.credentials.token import EXPIRY_SKEW_SECONDS, AccessToken
from harmonia.errors import CredentialsUnavailable
from harmonia.observability.metrics import record_renewal

log = logging.getLogger("harmonia.credentials")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
LOCK_LEASE = 30.0      # a renewal holding the lock longer than this (a crashed instance) lets another try
PEER_PATIENCE = 15.0   # how long to wait for another instance's renewal before giving up this call


def chain_origin(refresh_token: str | None) -> str | None:
    """A digest naming the configured refresh token, so a stored rotation chain is only followed while
    the operator's configuration is the one it began with."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:32] if refresh_token else None


class RenewingCredential:
    renewable = True

    def __init__(self, source: str, grant: Grant, endpoint: TokenEndpoint, store: TokenStore, *,
                 header: AuthHeader | None = None, refresh_token: str | None = None,
                 clock: Callable[[], float] = time.time, patience: float = PEER_PATIENCE) -> None:
        self.source = source
        self.kind = grant.kind
        self.grant = grant
        self.endpoint = endpoint
        self.store = store
        self.clock = clock
        self.patience = patience
        self._header = header or AuthHeader()
        self._refresh = refresh_token
        self._origin = chain_origin(refresh_token)
        self._token: AccessToken | None = None
        self._flight: asyncio.Task[AccessToken] | None = None
        self._failure: CredentialsUnavailable | None = None
        self._retry_at = 0.0
        self._failures = 0
        self.renewals = 0  # token endpoint calls this process made

    @property
    def current(self) -> AccessToken | None:
        """The token in use, without renewing (for ``harmonia doctor`` and metrics)."""
        return self._token

    @property
    def last_failure(self) -> CredentialsUnavailable | None:
        return self._failure

    async def token(self) -> AccessToken:
        token = self._token
        now = self.clock()
        if token is not None and not token.due(now):
            return token
        usable = token is not None and not token.expired(now)
        if self._failure is not None and now < self._retry_at and not self._running():
            if usable:
                assert token is not None
                return token
            raise self._failure
        flight = self._flight if self._running() else self._start(None)
        if usable:
            assert token is not None
            return token  # the renewal runs beside the calls this token still serves
        assert flight is not None
        return await asyncio.shield(flight)

    def headers_for(self, token: AccessToken) -> dict[str, str]:
        return self._header(token)

    async def rejected(self, token: AccessToken) -> None:
        """The API refused ``token`` (401): renew it, unless that happened since it was sent."""
        if self._replaced(token):
            return
        if self._running():
            assert self._flight is not None
            await asyncio.shield(self._flight)
            if self._replaced(token):
                return
        await asyncio.shield(self._start(token.value))

    async def aclose(self) -> None:
        if self._running():
            assert self._flight is not None
            self._flight.cancel()
        await self.endpoint.aclose()

    # --- internals ---------------------------------------------------------------------------------

    def _replaced(self, token: AccessToken) -> bool:
        return self._token is not None and self._token.value != token.value

    def _running(self) -> bool:
        return self._flight is not None and not self._flight.done()

    def _start(self, rejected: str | None) -> asyncio.Task[AccessToken]:
        flight = asyncio.get_running_loop().create_task(self._renew(rejected))
        flight.add_done_callback(_consume)
        self._flight = flight
        return flight

    async def _renew(self, rejected: str | None) -> AccessToken:
        if self._failure is not None and self.clock() < self._retry_at:
            raise self._failure
        asked = self.renewals  # unchanged after a success: the token was adopted from another instance
        try:
            token = await self._renew_shared(rejected)
        except CredentialsUnavailable as exc:
            record_renewal(self.source, self.kind, "refused" if exc.permanent else "failed")
            self._failures += 1
            self._failure = exc
            wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
            now, current = self.clock(), self._token
            if not exc.permanent and current is not None and current.expires_at is not None \
                    and not current.expired(now):
                # A blip while the token still works: try again well before it stops working.
                wait = min(wait, max(0.05, (current.expires_at - EXPIRY_SKEW_SECONDS - now) / 2))
            self._retry_at = now + wait
            log.warning("%s: access token renewal failed (%s, %s grant); next attempt in %.1f s", self.source,
                        exc.reason, self.kind, wait)
            raise
        self._failure, self._failures = None, 0
        record_renewal(self.source, self.kind, "renewed" if self.renewals > asked else "adopted")
        self._token = token
        return token

    async def _renew_shared(self, rejected: str | None) -> AccessToken:
        if (token := self._adopt(await self.store.load(), rejected)) is not None:
            return token
        lease = await self._lock(rejected)
        if isinstance(lease, AccessToken):
            return lease  # a peer renewed while we waited for its lock
        try:
            if (token := self._adopt(await self.store.load(), rejected)) is not None:
                return token
            issued = await self._exchange(rejected)
            if isinstance(issued, AccessToken):
                return issued
            rotated = issued.refresh_token is not None and issued.refresh_token != self._refresh
            if issued.refresh_token is not None:
                self._refresh = issued.refresh_token  # rotated: the old one may be spent already
            refresh = self._refresh if self.grant.uses_refresh_token else None
            await self.store.save(Saved(issued.token, refresh, self._origin))
            life = (issued.token.expires_at or 0.0) - issued.token.issued_at
            log.info("%s: access token renewed (%s grant), valid for %.0f s%s", self.source, self.kind, life,
                     ", refresh token rotated and saved" if rotated else "")
            return issued.token
        finally:
            await self.store.unlock(lease)

    async def _exchange(self, rejected: str | None) -> Issued | AccessToken:
        """The token endpoint's answer; a refused refresh token is tried once more if the store holds a
        newer one (another instance rotated it while this one could not see Redis), or that instance's
        token is adopted."""
        used = self._refresh
        try:
            self.renewals += 1
            return await self.grant.exchange(self.endpoint, used)
        except CredentialsUnavailable as exc:
            if not (exc.permanent and self.grant.uses_refresh_token):
                raise
            if (token := self._adopt(await self.store.load(), rejected)) is not None:
                return token
            if self._refresh == used:
                raise
            self.renewals += 1
            return await self.grant.exchange(self.endpoint, self._refresh)

    def _adopt(self, saved: Saved | None, rejected: str | None) -> AccessToken | None:
        """The stored token when it is fresh and not the one refused; the stored rotation chain either way."""
        if saved is None:
            return None
        if saved.refresh_token and saved.origin == self._origin:
            self._refresh = saved.refresh_token
        token = saved.token
        if token is None or token.due(self.clock()) or token.value == rejected:
            return None
        return token

    async def _lock(self, rejected: str | None) -> object:
        gives_up = time.monotonic() + self.patience
        delay = 0.02
        while True:
            lease = await self.store.try_lock(LOCK_LEASE)
            if lease is not None:
                return lease
            await asyncio.sleep(delay)
            delay = min(0.25, delay * 2)
            if (token := self._adopt(await self.store.load(), rejected)) is not None:
                return token
            if time.monotonic() >= gives_up:
                raise CredentialsUnavailable(self.source, "renewal_by_another_instance_unfinished", permanent=False)


def _consume(flight: asyncio.Task[AccessToken]) -> None:
    """A renewal nobody awaited (it ran beside a still-valid token) has its failure logged already."""
    if not flight.cancelled():
        flight.exception()
