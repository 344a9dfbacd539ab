"""Tier 1: a bounded in-process LRU of entries, dropped once past their last stale window.

    tier = MemoryTier(max_entries=20_000)
    tier.put("hm:v1:hubspot:contact:9f2c:151", entry)
    tier.get("hm:v1:hubspot:contact:9f2c:151", now=time.time())
"""

from __future__ import annotations

from collections import OrderedDict

from harmonia.cache.entry import Entry


class MemoryTier:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max(1, max_entries)
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now: float) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry.stored_at >= entry.lifetime:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def cached_keys(self) -> list[str]:
        return list(self._entries)

    def delete(self, keys: list[str]) -> int:
        return sum(self._entries.pop(key, None) is not None for key in keys)

    def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self._entries if key.startswith(prefix)]
        return self.delete(doomed)

    def clear(self) -> None:
        self._entries.clear()
