"""Where a renewing credential keeps its current token and refresh token, and its renewal lock.

    store = RedisTokenStore(redis_client, credential_id, sealer)   # shared by every instance
    store = MemoryTokenStore()                                     # one process (no Redis configured)
    saved = await store.load()                                     # Saved(token, refresh_token, origin) | None
    lease = await store.try_lock(30.0)                             # None: another instance is renewing
    await store.save(Saved(token, refresh_token, origin)); await store.unlock(lease)

Redis layout, one hash and one lock per credential, both under the same hash tag so a Redis Cluster
keeps them on one node: ``harmonia:credential:{<id>}`` (``token`` and ``refresh`` sealed by
``Sealer``, ``origin``, ``renewed_at``) and ``harmonia:credential:{<id>}:lock`` (``SET NX PX``,
released only by its holder). The hash has no expiry: a refresh token outlives many access tokens.
A Redis that fails falls back to this process's memory for as long as it is down; what was saved
there is written to Redis again with the next renewal.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import orjson

from harmonia.credentials.sealed import Sealer
from harmonia.credentials.token import AccessToken
from harmonia.shared_state import FAILURES, Client, Outage

log = logging.getLogger("harmonia.credentials")

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Saved:
    token: AccessToken | None
    refresh_token: str | None = field(default=None, repr=False)
    origin: str | None = None  # digest of the configured refresh token this chain of rotations began with


class TokenStore(Protocol):
    shared: bool

    async def load(self) -> Saved | None: ...

    async def save(self, saved: Saved) -> None: ...

    async def try_lock(self, lease_seconds: float) -> object | None: ...

    async def unlock(self, lease: object) -> None: ...


class MemoryTokenStore:
    """One process's copy; its lock only keeps this process's renewals one at a time."""

    shared = False

    def __init__(self) -> None:
        self._saved: Saved | None = None
        self._held = False

    async def load(self) -> Saved | None:
        return self._saved

    async def save(self, saved: Saved) -> None:
        self._saved = saved

    async def try_lock(self, lease_seconds: float) -> object | None:
        if self._held:
            return None
        self._held = True
        return self

    async def unlock(self, lease: object) -> None:
        self._held = False


class RedisTokenStore:
    """Every instance's copy, sealed; this process's memory while Redis is down."""

    shared = True

    def __init__(self, client: Client, credential_id: str, sealer: Sealer, *, cooldown: float = 1.0) -> None:
        self.client = client
        self.key = f"harmonia:credential:{{{credential_id}}}"
        self.lock_key = f"{self.key}:lock"
        self.sealer = sealer
        self.fallback = MemoryTokenStore()
        self.outage = Outage("credentials", cooldown, fallback="tokens kept in this process")

    async def load(self) -> Saved | None:
        fields = await self._call(self.client.hgetall(self.key))
        if fields is None:
            return await self.fallback.load()
        record = cast(dict[bytes, bytes], fields)
        token = _token_from(self.sealer.open(record.get(b"token")))
        refresh = self.sealer.open(record.get(b"refresh"))
        origin = record.get(b"origin")
        if token is None and refresh is None:
            return await self.fallback.load()
        return Saved(token, refresh, origin.decode() if origin else None)

    async def save(self, saved: Saved) -> None:
        await self.fallback.save(saved)  # kept here too: a Redis outage must not lose a rotated refresh token
        mapping: dict[Any, Any] = {"renewed_at": str(time.time()), "origin": saved.origin or ""}
        if saved.token is not None:
            mapping["token"] = self.sealer.seal(_token_json(saved.token))
        if saved.refresh_token is not None:
            mapping["refresh"] = self.sealer.seal(saved.refresh_token)
        if await self._call(self.client.hset(self.key, mapping=mapping)) is None:
            log.error("credential %s: the new token could not be saved to Redis; this process keeps it, other "
                      "instances renew their own until Redis is back", self.key)

    async def try_lock(self, lease_seconds: float) -> object | None:
        lease = uuid.uuid4().hex
        acquired = await self._call(self.client.set(self.lock_key, lease, nx=True, px=int(lease_seconds * 1000)))
        if acquired is None and not self.up:
            return await self.fallback.try_lock(lease_seconds)  # Redis down: renew under this process's lock
        return lease if acquired else None

    async def unlock(self, lease: object) -> None:
        if lease is self.fallback:
            await self.fallback.unlock(lease)
        elif isinstance(lease, str):
            # A lock we cannot release lapses with its lease.
            await self._call(self.client.eval(_UNLOCK, 1, self.lock_key, lease))

    @property
    def up(self) -> bool:
        return self.outage.up

    async def _call(self, command: Any) -> Any:
        """The command's result, or None when Redis fails (then cooling down, logged once per outage)."""
        if not self.outage.up:
            _close(command)
            return None
        try:
            result = await command
        except FAILURES as exc:
            self.outage.failed(exc)
            return None
        self.outage.succeeded()
        return result


def _close(command: Any) -> None:
    close = getattr(command, "close", None)
    if callable(close):
        close()  # a coroutine never awaited: closed, so no "never awaited" warning


def _token_json(token: AccessToken) -> str:
    return orjson.dumps({"v": token.value, "e": token.expires_at, "s": sorted(token.scopes),
                         "i": token.issued_at}).decode()


def _token_from(text: str | None) -> AccessToken | None:
    if text is None:
        return None
    try:
        raw = orjson.loads(text)
        return AccessToken(str(raw["v"]), expires_at=raw["e"], scopes=frozenset(raw["s"]), issued_at=raw["i"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
