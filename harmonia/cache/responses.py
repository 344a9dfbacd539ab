"""Whole GraphQL answers for warm repeats, evicted with the entities they contain (as Envelop's
response cache does).

    responses = ResponseCache(entity_cache, max_entries=2000)
    key = responses.key(query, operation_name, variables, fingerprint)   # fingerprint: who may see what
    hit = responses.get(key)                  # CachedAnswer(data=..., actual_cost=..., errors=...) or None
    with responses.recording() as reads:      # around execution: which entities it read
        ... execute ...
    responses.store(key, data, actual_cost, reads, errors=denied)   # errors: the policy's FORBIDDEN ones

The key holds a hash of the document, the operation name, the variables and the principal's
policy fingerprint (``harmonia.auth.fingerprint``): two role sets that see different masks or
denials never share an answer. An answer lives no longer than the first entity it read stays
fresh, and is dropped the moment any of them is evicted, here or (through the entity cache's
Redis pub/sub) on another instance. Answers built on anything stale, uncacheable (an upstream
``no-store``) or evicted while they ran are not kept; the caller keeps execution errors, stale
notes and mutations out. The field policy's own errors (a denied field: null with FORBIDDEN) are
part of the answer, the same on every repeat under the same fingerprint, and kept with it.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from harmonia.cache.entity import PREFIX, EntityCache
from harmonia.cache.reads import ReadLog, reading


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    data: orjson.Fragment   # the answer's ``data``, already JSON: a hit costs no re-encoding
    actual_cost: int        # settled again on every hit, as if it had run
    expires_at: float
    keys: frozenset[str]    # the entity cache keys it read
    errors: tuple[dict[str, Any], ...] = ()   # the field policy's FORBIDDEN errors that came with it


@dataclass(slots=True)
class Recording:
    reads: ReadLog
    generation: int


def kind_prefix(cache_key: str) -> str:
    """``hm:v1:{hubspot:contact}:<scope>:151`` -> ``hm:v1:{hubspot:contact}:`` (what evicts a whole kind)."""
    tag_end = cache_key.find("}:", len(PREFIX))
    return cache_key[:tag_end + 2]


class ResponseCache:
    def __init__(self, entities: EntityCache, *, max_entries: int = 2000, enabled: bool = True) -> None:
        self.entities = entities
        # Nothing is cached with the entity cache off: every query then goes upstream, as configured.
        self.enabled = enabled and entities.enabled
        self.max_entries = max(1, max_entries)
        self._answers: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._by_key: dict[str, set[str]] = {}      # entity cache key -> answers that read it
        self._by_prefix: dict[str, set[str]] = {}   # kind prefix -> answers that read one of its keys
        entities.eviction_listeners.append(self._evicted)

    def __len__(self) -> int:
        return len(self._answers)

    @staticmethod
    def key(query: str, operation_name: str | None, variables: dict[str, Any] | None, fingerprint: str) -> str:
        document = hashlib.sha256(query.encode("utf-8")).hexdigest()
        raw = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
        return f"{document}:{operation_name or ''}:{hashlib.sha256(raw).hexdigest()}:{fingerprint}"

    def get(self, key: str) -> CachedAnswer | None:
        answer = self._answers.get(key)
        if answer is None:
            return None
        if answer.expires_at <= time.time():
            self._drop(key)
            return None
        self._answers.move_to_end(key)
        return answer

    @contextmanager
    def recording(self) -> Iterator[Recording]:
        with reading() as reads:
            yield Recording(reads, self.entities.generation)

    def store(self, key: str, data: Any, actual_cost: int, recording: Recording,
              errors: list[dict[str, Any]] | None = None) -> bool:
        """Keep ``data`` (and the policy's ``errors`` that came with it) for ``key`` if everything it
        read is fresh, shareable and still cached."""
        reads = recording.reads
        if not self.enabled or not reads.shareable or recording.generation != self.entities.generation:
            return False
        now = time.time()
        # Read no entity (introspection, __typename): no eviction reaches it; the shortest TTL bounds it.
        expires_at = reads.fresh_until if reads.keys else now + self._shortest_ttl()
        if expires_at <= now:
            return False
        self._drop(key)
        # Errors as plain data (a copy): the operation log reads their codes on every hit.
        kept = tuple(orjson.loads(orjson.dumps(errors))) if errors else ()
        self._answers[key] = CachedAnswer(orjson.Fragment(orjson.dumps(data)), actual_cost, expires_at,
                                          frozenset(reads.keys), kept)
        for cache_key in reads.keys:
            self._by_key.setdefault(cache_key, set()).add(key)
            self._by_prefix.setdefault(kind_prefix(cache_key), set()).add(key)
        while len(self._answers) > self.max_entries:
            self._drop(next(iter(self._answers)))
        return True

    def clear(self) -> None:
        self._answers.clear()
        self._by_key.clear()
        self._by_prefix.clear()

    def _shortest_ttl(self) -> float:
        s = self.entities.settings
        return min(p.ttl for p in (s.contacts, s.customers, s.orders, s.members, s.campaigns, s.reports, s.analytics))

    def _evicted(self, keys: list[str], prefixes: list[str]) -> None:
        doomed: set[str] = set()
        for cache_key in keys:
            doomed |= self._by_key.get(cache_key, set())
        for prefix in prefixes:
            doomed |= self._by_prefix.get(prefix, set())
        for key in doomed:
            self._drop(key)

    def _drop(self, key: str) -> None:
        answer = self._answers.pop(key, None)
        if answer is None:
            return
        for cache_key in answer.keys:
            for index, index_key in ((self._by_key, cache_key), (self._by_prefix, kind_prefix(cache_key))):
                holders = index.get(index_key)
                if holders is not None:
                    holders.discard(key)
                    if not holders:
                        del index[index_key]
