"""The admins' runtime changes to field policies: versioned overlays and their append-only audit log.

    overlays = RedisOverlays(target)               # shared by every gateway instance (any Redis topology)
    overlays = InProcessOverlays()                 # without Redis: this process only, gone on restart
    entry = await overlays.write("Campaign", "stats", FieldRule(read=Rule.roles("support")), actor="ada",
                                 file_rule=None)
    rules, version = await overlays.snapshot()
    async for version in overlays.changes(): ...   # another instance wrote (Redis pub/sub)

In Redis: a hash of ``Type.field`` -> rule (JSON), a version counter, a stream as the audit log and
a pub/sub channel announcing each new version, all under one hash tag (``harmonia:policy:{policy}:*``)
so a Redis Cluster keeps them on one node (the announcement is sharded pub/sub there). One Lua script
does the write, the version bump, the audit entry and the announcement atomically, so two admins
editing at once get two versions and two audit entries with the right ``before`` each. Keys written
by releases before the hash tag (``harmonia:policy:overlays``, ...) are renamed on first use.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from harmonia.auth.rules import FieldRule, field_rule_from_data
from harmonia.shared_state import ADMIN, Channel, RedisTarget, open_client, tagged

Overlays = dict[tuple[str, str], FieldRule]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    version: int
    at: str                      # ISO 8601 UTC
    actor: str                   # the admin's token subject
    action: str                  # "set" or "remove"
    type_name: str
    field_name: str
    before: FieldRule | None     # the field's own rule before (overlay, else the file's), None: it had none
    after: FieldRule | None      # the overlay written, None: removed (the file's rule applies again)


class OverlayBackend(Protocol):
    async def snapshot(self) -> tuple[Overlays, int]: ...
    async def write(self, type_name: str, field_name: str, rule: FieldRule | None, *, actor: str,
                    file_rule: FieldRule | None) -> AuditEntry: ...
    async def audit(self, last: int) -> list[AuditEntry]: ...
    def changes(self, stop: asyncio.Event) -> AsyncIterator[int]: ...
    async def aclose(self) -> None: ...


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _encode(rule: FieldRule | None) -> str:
    return json.dumps(rule.to_data(), sort_keys=True) if rule is not None else ""


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(text: str | bytes) -> FieldRule | None:
    if isinstance(text, bytes):
        text = text.decode()
    return field_rule_from_data(json.loads(text)) if text else None


class InProcessOverlays:
    """Overlays in this process only: other instances never see them and a restart forgets them."""

    def __init__(self) -> None:
        self._rules: Overlays = {}
        self._version = 0
        self._log: list[AuditEntry] = []

    async def snapshot(self) -> tuple[Overlays, int]:
        return dict(self._rules), self._version

    async def write(self, type_name: str, field_name: str, rule: FieldRule | None, *, actor: str,
                    file_rule: FieldRule | None) -> AuditEntry:
        before = self._rules.get((type_name, field_name), file_rule)
        if rule is None:
            self._rules.pop((type_name, field_name), None)
        else:
            self._rules[(type_name, field_name)] = rule
        self._version += 1
        entry = AuditEntry(self._version, _now(), actor, "set" if rule else "remove", type_name, field_name,
                           before, rule)
        self._log.append(entry)
        return entry

    async def audit(self, last: int) -> list[AuditEntry]:
        return list(reversed(self._log[-last:])) if last > 0 else []

    async def changes(self, stop: asyncio.Event) -> AsyncIterator[int]:
        await stop.wait()  # nobody else writes here
        return
        yield  # an async generator that yields nothing

    async def aclose(self) -> None:
        return None


_WRITE = """
local before = redis.call('HGET', KEYS[1], ARGV[1])
if not before or before == '' then before = ARGV[6] end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local version = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], '*', 'version', version, 'at', ARGV[4], 'actor', ARGV[3], 'action', ARGV[5],
           'target', ARGV[1], 'before', before, 'after', ARGV[2])
redis.call(ARGV[7], KEYS[4], version)
return {version, before}
"""


# Moves a key of the layout before hash tags to its tagged name, unless the tagged one exists already.
_MIGRATE = """
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  return 1
end
return 0
"""
NAMES = ("overlays", "version", "audit", "changes")


class RedisOverlays:
    """Overlays shared through Redis by every gateway instance."""

    def __init__(self, target: RedisTarget | str, prefix: str = "harmonia:policy:") -> None:
        self.target = RedisTarget.parse(target) if isinstance(target, str) else target
        self._redis = open_client(self.target, ADMIN)
        self.keys = [tagged(prefix, "policy", name) for name in NAMES]
        self._legacy = [f"{prefix}{name}" for name in NAMES[:3]]
        self.channel = Channel(self.target, self.keys[3])
        self._write = self._redis.register_script(_WRITE)
        self._migrated = False

    async def _migrate(self) -> None:
        """Rename the untagged keys of earlier releases (never on a Cluster, where no release ran)."""
        if self._migrated:
            return
        if self.target.mode != "cluster":
            for old, new in zip(self._legacy, self.keys, strict=False):
                await self._redis.eval(_MIGRATE, 2, old, new)
        self._migrated = True

    async def snapshot(self) -> tuple[Overlays, int]:
        await self._migrate()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.keys[0])
            pipe.get(self.keys[1])
            raw, version = await pipe.execute()
        rules: Overlays = {}
        for key, value in raw.items():
            type_name, _, field_name = key.decode().partition(".")
            rule = _decode(value)
            if rule is not None:
                rules[(type_name, field_name)] = rule
        return rules, int(version or 0)

    async def write(self, type_name: str, field_name: str, rule: FieldRule | None, *, actor: str,
                    file_rule: FieldRule | None) -> AuditEntry:
        at = _now()
        action = "set" if rule is not None else "remove"
        await self._migrate()
        version, before = await self._write(keys=self.keys, args=[
            f"{type_name}.{field_name}", _encode(rule), actor, at, action, _encode(file_rule),
            self.channel.publish_command])
        return AuditEntry(int(version), at, actor, action, type_name, field_name, _decode(before), rule)

    async def audit(self, last: int) -> list[AuditEntry]:
        if last <= 0:
            return []
        await self._migrate()
        entries: Any = await self._redis.xrevrange(self.keys[2], count=last)
        out = []
        for _, raw in entries or ():
            f = {_text(k): _text(v) for k, v in raw.items()}
            type_name, _, field_name = f["target"].partition(".")
            out.append(AuditEntry(int(f["version"]), f["at"], f["actor"], f["action"], type_name, field_name,
                                  _decode(f["before"]), _decode(f["after"])))
        return out

    async def changes(self, stop: asyncio.Event) -> AsyncIterator[int]:
        """Versions announced by any instance, until ``stop`` is set or the subscription fails."""
        async for message in self.channel.messages(stop):
            yield int(message)

    async def aclose(self) -> None:
        await self._redis.aclose()


def overlays_for(target: RedisTarget | str | None) -> OverlayBackend:
    return RedisOverlays(target) if target else InProcessOverlays()

