"""The entity cache: both tiers, single-flight, stale serving, and eviction on every instance.

    CONTACT = Kind(source="hubspot", entity="contact", policy="contacts", group="Customer")
    hits = await cache.lookup_many(CONTACT, ["151", "154"], str, hubspot.batch_read)
    hit = await cache.lookup(CONTACT_PAGE, (100, None), page_id, lambda k: hubspot.list_contacts(*k))
    await cache.evict("Customer", "151")        # both tiers, every instance (Redis pub/sub)

A lookup reads tier 1, then the misses from Redis in one MGET, then asks the source only for
what is still missing, in one call of the batch function. Concurrent lookups of the same key on
this instance share one flight. An entry past its TTL but within ``stale_while_revalidate`` is
served at once and refreshed in the background; one within ``stale_if_error`` is refetched, and
served (as a ``Hit`` with ``stale_age``) only when the source fails with ``fallback_on``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from harmonia.cache.codec import CodecError, RecordCodec
from harmonia.cache.entry import Entry, Freshness
from harmonia.cache.hints import freshness_hints
from harmonia.cache.memory import MemoryTier
from harmonia.cache.reads import current as current_reads
from harmonia.cache.shared import RedisTier
from harmonia.observability.lookups import note_lookup
from harmonia.settings import CachePolicy, CacheSettings

log = logging.getLogger("harmonia.cache")
K = TypeVar("K")
V = TypeVar("V")
PREFIX = "hm:v1:"
EVICT_CHANNEL = "hm:v1:evict"
Fetch = Callable[[list[K]], Awaitable[Mapping[K, Any]]]


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of cached upstream answer."""

    source: str   # "hubspot", ...: the credentials scope and the source named in stale notes
    entity: str   # "contact", "contact-page", ...
    policy: str   # the CacheSettings field with its TTLs: "contacts", "orders", ...
    group: str    # the GraphQL type an admin evicts it by: "Customer", "Order", "Campaign", "Analytics"
    by_id: bool = True  # keyed by the record's own id; False: a page or an index (evicted with any id)
    # A declared source's own TTLs (its declaration's ``cache``), instead of the ``policy`` setting.
    own_policy: CachePolicy | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Hit(Generic[V]):
    value: V
    stale_age: float | None = None  # set when served stale because the source failed
    source: str = ""


@dataclass(frozen=True, slots=True)
class _Outcome:
    entry: Entry
    stale: bool
    stored: bool = True  # False: not kept (no-store, or an eviction landed while it was fetched)


def kind_prefix(kind: Kind) -> str:
    """``hm:v1:{hubspot:contact}:``: one hash tag per kind, so a batch of one kind is one MGET on a Cluster."""
    return f"{PREFIX}{{{kind.source}:{kind.entity}}}:"


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class EntityCache:
    def __init__(
        self,
        settings: CacheSettings,
        *,
        scopes: Mapping[str, str],
        codec: RecordCodec,
        shared: RedisTier | None = None,
        fallback_on: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        self.settings = settings
        self.enabled = settings.enabled
        self.scopes = dict(scopes)
        self.codec = codec
        self.shared = shared
        self.fallback_on = fallback_on
        self.memory = MemoryTier(settings.max_entries)
        self.instance = uuid.uuid4().hex
        self._flights: dict[str, asyncio.Future[_Outcome]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Bumped by every eviction: a fetch that started before one must not store what it read.
        self._generation = 0
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        # Told (keys, prefixes) on every eviction here or from another instance: the response cache.
        self.eviction_listeners: list[Callable[[list[str], list[str]], None]] = []

    # --- keys -----------------------------------------------------------------------------------

    def key(self, kind: Kind, ident: str) -> str:
        if len(ident) > 100 or not ident.isprintable():
            ident = "#" + hashlib.sha256(ident.encode("utf-8")).hexdigest()
        return f"{kind_prefix(kind)}{self.scopes.get(kind.source, '-')}:{ident}"

    def policy(self, kind: Kind) -> CachePolicy:
        if kind.own_policy is not None:
            return kind.own_policy
        policy: CachePolicy = getattr(self.settings, kind.policy)
        return policy

    # --- lookups --------------------------------------------------------------------------------

    async def lookup(self, kind: Kind, key: K, ident: Callable[[K], str],
                     fetch_one: Callable[[K], Awaitable[Any]]) -> Hit[Any]:
        async def fetch(keys: list[K]) -> dict[K, Any]:
            return {keys[0]: await fetch_one(keys[0])}

        [hit] = await self.lookup_many(kind, [key], ident, fetch)
        if isinstance(hit, BaseException):
            raise hit
        return hit

    async def lookup_many(self, kind: Kind, keys: Sequence[K], ident: Callable[[K], str],
                          fetch: Fetch[K]) -> list[Hit[Any] | BaseException]:
        """A hit (or the source's error) per key, in order; ``fetch`` answers ``{key: value}``, absent = None."""
        if not self.enabled:
            found = await fetch(list(dict.fromkeys(keys)))
            return [Hit(found.get(k)) for k in keys]
        self._ensure_listening()
        now = time.time()
        cache_keys = {k: self.key(kind, ident(k)) for k in keys}
        by_cache_key = {ck: k for k, ck in cache_keys.items()}
        ready: dict[str, Hit[Any] | BaseException] = {}
        reads = current_reads()
        fresh_until = math.inf
        waits: dict[str, asyncio.Future[_Outcome]] = {}
        mine: list[str] = []
        revalidate: dict[str, Entry] = {}
        fallbacks: dict[str, Entry] = {}
        for ck in by_cache_key:
            entry = self.memory.get(ck, now)
            state = entry.state(now) if entry is not None else Freshness.EXPIRED
            if entry is not None and state is Freshness.FRESH:
                ready[ck] = Hit(entry.value)
                fresh_until = min(fresh_until, entry.stored_at + entry.ttl)
                continue
            if entry is not None and state is Freshness.REVALIDATE:
                ready[ck] = Hit(entry.value)
                revalidate[ck] = entry
                fresh_until = now  # past its TTL: no answer built on it may be kept
                continue
            if entry is not None and state is Freshness.STALE:
                fallbacks[ck] = entry
            flight = self._flights.get(ck)
            if flight is not None and not flight.done():  # a landed flight may hold what is now stale
                waits[ck] = flight
            else:
                mine.append(ck)
        note_lookup(kind.source, "memory", hits=len(ready) - len(revalidate), stale=len(revalidate),
                    misses=len(mine) + len(waits))
        if mine:
            waits.update(self._start(kind, {ck: by_cache_key[ck] for ck in mine}, fetch, fallbacks))
        if revalidate:
            self._revalidate(kind, {ck: by_cache_key[ck] for ck in revalidate if ck not in self._flights}, fetch,
                             revalidate)
        for ck, flight in waits.items():
            try:
                outcome = await asyncio.shield(flight)
            except Exception as exc:
                ready[ck] = exc  # this key fails; its siblings in the batch may still answer
                continue
            entry = outcome.entry
            ready[ck] = Hit(entry.value, time.time() - entry.stored_at, kind.source) if outcome.stale \
                else Hit(entry.value)
            kept = outcome.stored and not outcome.stale
            fresh_until = min(fresh_until, entry.stored_at + entry.ttl if kept else now)
        if reads is not None:
            reads.note(by_cache_key, fresh_until)
        return [ready[cache_keys[k]] for k in keys]

    def _start(self, kind: Kind, wanted: dict[str, K], fetch: Fetch[K],
               fallbacks: dict[str, Entry]) -> dict[str, asyncio.Future[_Outcome]]:
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[_Outcome]] = {}
        for ck in wanted:
            future: asyncio.Future[_Outcome] = loop.create_future()
            # A caller that went away (client disconnect) must not leave an unread exception behind.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            futures[ck] = self._flights[ck] = future
        # Its own task: the flight outlives the request that started it, so waiters never hang.
        task = asyncio.ensure_future(self._resolve(kind, wanted, fetch, futures, dict(fallbacks)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return futures

    def _revalidate(self, kind: Kind, wanted: dict[str, K], fetch: Fetch[K], current: dict[str, Entry]) -> None:
        if wanted:
            self._start(kind, wanted, fetch, current)

    async def _resolve(self, kind: Kind, wanted: dict[str, K], fetch: Fetch[K],
                       futures: dict[str, asyncio.Future[_Outcome]], fallbacks: dict[str, Entry]) -> None:
        generation = self._generation
        pending = dict(wanted)
        try:
            if self.shared is not None:
                now = time.time()
                for ck, entry in (await self._read_shared(list(pending))).items():
                    state = entry.state(now)
                    if state is Freshness.FRESH:
                        self.memory.put(ck, entry)
                        futures[ck].set_result(_Outcome(entry, stale=False))
                        del pending[ck]
                    elif state is Freshness.REVALIDATE:
                        # Serve it now; this same flight goes on to refresh it (stale-while-revalidate).
                        self.memory.put(ck, entry)
                        if not futures[ck].done():
                            futures[ck].set_result(_Outcome(entry, stale=False))
                        fallbacks[ck] = entry
                    elif state is Freshness.STALE:
                        fallbacks.setdefault(ck, entry)
                note_lookup(kind.source, "redis", hits=len(wanted) - len(pending),
                            stale=sum(futures[ck].done() for ck in pending),
                            misses=sum(not futures[ck].done() for ck in pending))
            if pending:
                await self._fetch(kind, pending, fetch, futures, fallbacks, generation)
        except BaseException as exc:  # every waiter must hear how the flight ended, cancellation too
            for ck, future in futures.items():
                if future.done():
                    continue
                fallback = fallbacks.get(ck)
                if fallback is not None and isinstance(exc, self.fallback_on):
                    future.set_result(_Outcome(fallback, stale=True))
                    note_lookup(kind.source, "fallback", stale=1)
                elif isinstance(exc, Exception):
                    future.set_exception(exc)
                else:
                    future.cancel()
            if not isinstance(exc, Exception):
                raise
        finally:
            for ck, future in futures.items():
                if self._flights.get(ck) is future:
                    del self._flights[ck]

    async def _fetch(self, kind: Kind, pending: dict[str, K], fetch: Fetch[K],
                     futures: dict[str, asyncio.Future[_Outcome]], fallbacks: dict[str, Entry],
                     generation: int) -> None:
        policy = self.policy(kind)
        with freshness_hints() as hint:
            found = await fetch(list(pending.values()))
        now = time.time()
        ttl = policy.ttl if hint.max_age is None else hint.max_age
        entries = {ck: Entry(found.get(key), now, ttl, policy.stale_while_revalidate, policy.stale_if_error)
                   for ck, key in pending.items()}
        storing = not hint.no_store and generation == self._generation
        if storing:
            for ck, entry in entries.items():
                self.memory.put(ck, entry)
        for ck, entry in entries.items():
            if not futures[ck].done():
                futures[ck].set_result(_Outcome(entry, stale=False, stored=storing))
            if self._flights.get(ck) is futures[ck]:
                del self._flights[ck]  # landed: later readers go to tier 1, not to this flight
        if storing and self.shared is not None:
            await self._write_shared(entries)

    # --- tier 2 encoding ------------------------------------------------------------------------

    async def _read_shared(self, keys: list[str]) -> dict[str, Entry]:
        assert self.shared is not None
        raw = await self.shared.get_many(keys)
        entries: dict[str, Entry] = {}
        for ck, blob in raw.items():
            try:
                stored_at, ttl, swr, sie, data = orjson.loads(blob)
                entries[ck] = Entry(self.codec.decode(data), stored_at, ttl, swr, sie)
            except (CodecError, ValueError, TypeError):
                continue  # written by another version: a miss
        return entries

    async def _write_shared(self, entries: dict[str, Entry]) -> None:
        assert self.shared is not None
        items: dict[str, tuple[bytes, int]] = {}
        for ck, e in entries.items():
            try:
                blob = orjson.dumps([e.stored_at, e.ttl, e.swr, e.sie, self.codec.encode(e.value)])
            except (CodecError, TypeError) as exc:
                log.error("cannot share %s: %s", ck, exc)
                continue
            items[ck] = (blob, int(e.lifetime * 1000))
        await self.shared.set_many(items)

    # --- eviction -------------------------------------------------------------------------------

    async def evict(self, kinds: Collection[Kind], ident: str | None = None) -> int:
        """Evict one id (``ident``) or everything of ``kinds`` here, in Redis, and on every other instance.

        With an id, kinds that are not keyed by id (pages, by-email indexes) go wholesale: any of
        them may hold the record.
        """
        keys: list[str] = []
        prefixes: list[str] = []
        for kind in kinds:
            if ident is not None and kind.by_id:
                keys.append(self.key(kind, ident))
            else:
                prefixes.append(kind_prefix(kind))
        removed = self._evict_local(keys, prefixes)
        if self.shared is not None:
            removed += await self.shared.delete(keys)
            for prefix in prefixes:
                removed += await self.shared.delete_prefix(prefix)
            await self.shared.publish(EVICT_CHANNEL, orjson.dumps(
                {"origin": self.instance, "keys": keys, "prefixes": prefixes}))
        return removed

    def _evict_local(self, keys: list[str], prefixes: list[str]) -> int:
        self._generation += 1
        removed = self.memory.delete(keys)
        for prefix in prefixes:
            removed += self.memory.delete_prefix(prefix)
        for listener in self.eviction_listeners:
            listener(keys, prefixes)
        return removed

    @property
    def generation(self) -> int:
        """Bumped by every eviction: what was read before one may hold what it removed."""
        return self._generation

    def _on_evict_message(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            if message.get("origin") == self.instance:
                return
            keys = [k for k in message.get("keys", ()) if isinstance(k, str) and k.startswith(PREFIX)]
            prefixes = [p for p in message.get("prefixes", ()) if isinstance(p, str) and p.startswith(PREFIX)]
        except (ValueError, AttributeError):
            return
        self._evict_local(keys, prefixes)

    def _ensure_listening(self) -> None:
        """Subscribe to other instances' evictions on first use (tests drive apps without a lifespan)."""
        if self.shared is None or self._listener is not None:
            return
        self._listener = asyncio.ensure_future(
            self.shared.listen(EVICT_CHANNEL, self._on_evict_message, self.subscribed))

    async def start(self) -> None:
        self._ensure_listening()

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)  # the Redis tier is its builder's to close

    def status(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "entries": len(self.memory),
                "redis": "not configured" if self.shared is None else self.shared.state}
