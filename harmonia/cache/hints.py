"""What an upstream said about caching its answer (``Cache-Control``), carried up to the cache.

    with freshness_hints() as hint:        # the cache, around one upstream fetch
        found = await fetch(keys)
    hint.max_age, hint.no_store             # the strictest of every response the fetch saw

    report_cache_control(response.headers.get("cache-control"))   # the HTTP layer, per response

A context variable carries the collector, so connectors need no new parameters; tasks a fetch
spawns (``asyncio.gather``) copy the context and report into the same collector.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class FreshnessHint:
    max_age: float | None = None
    no_store: bool = False

    def add(self, max_age: float | None, no_store: bool) -> None:
        self.no_store = self.no_store or no_store
        if max_age is not None:
            self.max_age = max_age if self.max_age is None else min(self.max_age, max_age)


_current: ContextVar[FreshnessHint | None] = ContextVar("harmonia_freshness_hint", default=None)


@contextmanager
def freshness_hints() -> Iterator[FreshnessHint]:
    hint = FreshnessHint()
    token = _current.set(hint)
    try:
        yield hint
    finally:
        _current.reset(token)


def parse_cache_control(value: str | None) -> tuple[float | None, bool]:
    """(max-age seconds or None, no-store): ``no-cache`` means max-age 0 (keep only as a fallback)."""
    max_age: float | None = None
    no_store = False
    for part in (value or "").lower().split(","):
        name, _, arg = part.strip().partition("=")
        if name == "no-store":
            no_store = True
        elif name == "no-cache":
            max_age = 0.0
        elif name in ("max-age", "s-maxage") and max_age != 0.0:
            try:
                seconds = float(arg.strip().strip('"'))
            except ValueError:
                continue
            if seconds >= 0:
                max_age = seconds if max_age is None else min(max_age, seconds)
    return max_age, no_store


def report_cache_control(value: str | None) -> None:
    hint = _current.get()
    if hint is None or not value:
        return
    hint.add(*parse_cache_control(value))
