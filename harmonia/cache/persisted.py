"""Persisted operations: Apollo's automatic persisted queries (APQ) and a safelist mode.

    store = PersistedQueries(settings.persisted_queries, shared=redis_tier)   # shared may be None
    outcome = await store.resolve(query, extensions, privileged=is_admin)
    outcome.query or outcome.problem                          # the text to run, or why not
    if outcome.register and store.too_large(outcome.query) is None:  # once it parsed, validated, priced
        await store.put(outcome.register, outcome.query)

APQ (``extensions.persistedQuery = {version: 1, sha256Hash}``): a hash alone runs the stored text
or answers ``PersistedQueryNotFound``; hash plus text runs the text and names it for registration
(``Resolved.register``). The pipeline stores it only once the text has parsed, validated for its
caller and passed the limits, within the caller's registration budget and under ``max_bytes`` (a
text that is not stored still runs: the client has sent it whole). Registrations live ``ttl`` (at
most a week) in Redis, shared by every instance, and in process (without Redis, only there).

In safelist mode only registered operations run: the manifest's (Apollo's persisted-query manifest
format), and those an admin registered. Admins may run any operation. The contract fixes the error
codes, so Apollo's ``PERSISTED_QUERY_NOT_FOUND`` travels as ``BAD_USER_INPUT`` with
``extensions.persistedQuery: "PersistedQueryNotFound"`` and that message, which Apollo clients
recognise; an operation outside the safelist is ``FORBIDDEN`` (HTTP 403).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmonia.cache.shared import RedisTier
from harmonia.settings import PersistedQuerySettings

KEY_PREFIX = "hm:v1:pq:"
# A copy read from Redis is kept here this long at most (never past the ttl), then asked for again: a
# registration outlives its Redis entry by no more than this.
LOCAL_LEASE = 300.0
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
NOT_FOUND = "PersistedQueryNotFound"
NOT_SUPPORTED = "PersistedQueryNotSupported"
NOT_IN_LIST = "PersistedQueryNotInList"


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    code: str
    status: int
    extensions: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resolved:
    query: Any = None            # the text to run (unchanged when no persisted query was involved)
    problem: Problem | None = None
    register: str | None = None  # the hash to store ``query`` under, once it has passed


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_manifest(path: str) -> dict[str, str]:
    """Apollo's manifest: ``{"format": "apollo-persisted-query-manifest", "operations": [{"id", "body"}]}``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    operations = data.get("operations") if isinstance(data, dict) else None
    if not isinstance(operations, list):
        raise ValueError(f"{path}: not a persisted-query manifest (no `operations` list)")
    registered: dict[str, str] = {}
    for op in operations:
        body = op.get("body") if isinstance(op, dict) else None
        if not isinstance(body, str):
            raise ValueError(f"{path}: every operation needs a `body`")
        # The id is the body's hash in Apollo's generator; recompute rather than trust it.
        registered[sha256_hex(body)] = body
    return registered


class PersistedQueries:
    def __init__(self, settings: PersistedQuerySettings, shared: RedisTier | None = None,
                 max_local: int = 1024) -> None:
        self.settings = settings
        self.shared = shared
        self._local: OrderedDict[str, tuple[str, float]] = OrderedDict()  # sha -> (text, expiry, monotonic)
        self._max_local = max_local
        self._manifest = read_manifest(settings.manifest) if settings.manifest else {}

    async def get(self, sha: str) -> str | None:
        if sha in self._manifest:
            return self._manifest[sha]
        found = self._local.get(sha)
        if found is not None and found[1] > time.monotonic():
            self._local.move_to_end(sha)
            return found[0]
        if self.shared is not None:
            raw = await self.shared.get(KEY_PREFIX + sha)
            if raw is not None:
                text = raw.decode("utf-8")
                self._remember(sha, text, min(self.settings.ttl, LOCAL_LEASE))
                return text
        return None

    def too_large(self, query: str) -> str | None:
        """Why ``query`` may not be stored for its size (None: it may)."""
        size = len(query.encode("utf-8"))
        if size > self.settings.max_bytes:
            return f"the text is {size} bytes, more than the {self.settings.max_bytes} a persisted query may have"
        return None

    async def put(self, sha: str, query: str) -> None:
        self._remember(sha, query)
        if self.shared is not None:
            await self.shared.set_many({KEY_PREFIX + sha: (query.encode("utf-8"), int(self.settings.ttl * 1000))})

    def _remember(self, sha: str, query: str, lease: float | None = None) -> None:
        self._local[sha] = (query, time.monotonic() + (self.settings.ttl if lease is None else lease))
        self._local.move_to_end(sha)
        while len(self._local) > self._max_local:
            self._local.popitem(last=False)

    def involved(self, extensions: Any) -> bool:
        """Whether ``resolve`` has anything to do (a persisted query, or the safelist to check)."""
        return self.settings.safelist or (isinstance(extensions, dict) and extensions.get("persistedQuery") is not None)

    async def resolve(self, query: Any, extensions: Any, *, privileged: bool = False) -> Resolved:
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        safelist = self.settings.safelist and not privileged
        if persisted is None:
            if safelist and isinstance(query, str) and await self.get(sha256_hex(query)) is None:
                return _refused()
            return Resolved(query)
        if not self.settings.enabled:
            return Resolved(problem=_bad(NOT_SUPPORTED, NOT_SUPPORTED))
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            return Resolved(problem=_bad("Unsupported persisted query version: send version 1", "Unsupported"))
        sha = persisted.get("sha256Hash")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            return Resolved(problem=_bad("`sha256Hash` must be 64 lower-case hex digits", "InvalidHash"))
        if query is None:
            stored = await self.get(sha)
            if stored is None:
                # Apollo clients resend with the text on this exact message; HTTP 200 as Apollo Server.
                return Resolved(problem=Problem(NOT_FOUND, "BAD_USER_INPUT", 200, {"persistedQuery": NOT_FOUND}))
            return Resolved(stored)
        if not isinstance(query, str):
            return Resolved(query)  # the pipeline's own shape check answers
        if sha256_hex(query) != sha:
            return Resolved(problem=_bad("provided sha does not match query", "HashMismatch"))
        if await self.get(sha) is None:
            if safelist:
                return _refused()
            return Resolved(query, register=sha)
        return Resolved(query)


def _bad(message: str, detail: str) -> Problem:
    return Problem(message, "BAD_USER_INPUT", 400, {"persistedQuery": detail})


def _refused() -> Resolved:
    return Resolved(problem=Problem("This operation is not in the safelist of persisted operations",
                                    "FORBIDDEN", 403, {"persistedQuery": NOT_IN_LIST}))
