"""Which cached entities an operation read, and until when all of them stay fresh.

    with reading() as log:                 # around one operation's execution
        ... resolvers read through EntityCache.lookup_many ...
    log.keys, log.fresh_until, log.shareable

The entity cache notes every key it serves into the log of the operation whose task (or a task
it started: DataLoader batches, graphql-core's gathers) asks, so the response cache can evict an
answer with the entities it contains and expire it no later than the first of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(slots=True)
class ReadLog:
    keys: set[str] = field(default_factory=set)
    fresh_until: float = math.inf  # wall-clock time the first entity read stops being fresh
    shareable: bool = True         # False: something read was stale, uncacheable (no-store) or evicted meanwhile

    def note(self, keys: Iterable[str], fresh_until: float) -> None:
        self.keys.update(keys)
        if fresh_until < self.fresh_until:
            self.fresh_until = fresh_until


_log: ContextVar[ReadLog | None] = ContextVar("harmonia_read_log", default=None)


@contextmanager
def reading() -> Iterator[ReadLog]:
    log = ReadLog()
    token = _log.set(log)
    try:
        yield log
    finally:
        _log.reset(token)


def current() -> ReadLog | None:
    return _log.get()
