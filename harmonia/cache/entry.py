"""One cached value and its three windows: fresh, stale-while-revalidate, stale-if-error.

    entry = Entry(value=contact, stored_at=time.time(), ttl=60, swr=30, sie=3600)
    entry.state(time.time())        # Freshness.FRESH

Ages are wall-clock seconds so an entry written by one gateway process reads the same in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Freshness(Enum):
    FRESH = "fresh"            # serve
    REVALIDATE = "revalidate"  # serve now, refresh in the background
    STALE = "stale"            # refetch; serve only if the source fails
    EXPIRED = "expired"        # gone


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any          # the record, a page, a list; None records "the source has no such thing"
    stored_at: float
    ttl: float
    swr: float
    sie: float

    def state(self, now: float) -> Freshness:
        age = now - self.stored_at
        if age < self.ttl:
            return Freshness.FRESH
        if age < self.ttl + self.swr:
            return Freshness.REVALIDATE
        if age < self.ttl + self.sie:
            return Freshness.STALE
        return Freshness.EXPIRED

    @property
    def lifetime(self) -> float:
        """Seconds from ``stored_at`` after which nothing may serve it."""
        return self.ttl + max(self.swr, self.sie)
