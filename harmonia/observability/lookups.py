"""Entity cache lookup outcomes, counted by source and tier and shown on the current span.

    note_lookup("hubspot", "memory", hits=40, misses=10)   # tier 1 of one loader batch
    note_lookup("hubspot", "redis", hits=8, misses=2)      # the MGET for tier 1's misses
    note_lookup("shopify", "fallback", stale=1)            # served stale: the source failed

Outcomes: ``hit`` (fresh), ``miss`` (asked of the next tier or the source), ``stale`` (past its TTL,
served while a refresh runs, or because the source failed: tier ``fallback``).
"""

from __future__ import annotations

from harmonia.observability import tracing
from harmonia.observability.metrics import record_cache


def note_lookup(source: str, tier: str, *, hits: int = 0, misses: int = 0, stale: int = 0) -> None:
    record_cache(source, tier, hits=hits, misses=misses, stale=stale)
    tracing.event("cache.lookup", {"harmonia.source": source, "harmonia.cache.tier": tier,
                                   "harmonia.cache.hits": hits, "harmonia.cache.misses": misses,
                                   "harmonia.cache.stale": stale})
