"""Where the gateway reads the effective policy from: the file's policy plus the admins' overlays.

    store = PolicyStore(load_policy(path, catalog), overlays_for(settings.redis_url))
    await store.start()                           # loads the overlays, follows other instances' changes
    store.current.access_for(principal.roles, principal.scopes)
    await store.write("Campaign", "stats", rule, actor="ada")   # every instance applies it within a second

Each change builds a new immutable ``Policy``; requests read ``store.current`` once, so an
operation is never planned under two policies. Other instances' changes arrive over Redis
pub/sub; a version check every few seconds catches any announcement lost while reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from harmonia.auth.overlays import AuditEntry, InProcessOverlays, OverlayBackend
from harmonia.auth.policy import Policy
from harmonia.auth.rules import FieldRule

log = logging.getLogger("harmonia.auth.store")
POLL_SECONDS = 5.0


class PolicyStore:
    def __init__(self, base: Policy, overlays: OverlayBackend | None = None) -> None:
        self.base = base
        self.current = base
        self.overlays = overlays or InProcessOverlays()
        self.shared = not isinstance(self.overlays, InProcessOverlays)
        self._follower: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._started = False
        self._refresh_lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Load the overlays and follow changes; idempotent (the first request calls it too)."""
        if self._started:
            return
        self._started = True
        try:
            await self.refresh()
        except Exception as exc:  # Redis down at start: serve the file's policy, keep trying
            log.warning("policy overlays could not be loaded (%s); serving the policy file alone for now",
                        type(exc).__name__)
        if self.shared:
            self._follower = asyncio.create_task(self._follow())
            self._poller = asyncio.create_task(self._poll())

    async def refresh(self) -> None:
        async with self._refresh_lock:
            rules, version = await self.overlays.snapshot()
            if version != self.current.version:
                self.current = self.base.with_overlays(rules, version)

    async def write(self, type_name: str, field_name: str, rule: FieldRule | None, *, actor: str) -> AuditEntry:
        await self.start()
        file_type = self.base.types.get(type_name)
        file_rule = file_type.field(field_name) if file_type else None
        entry = await self.overlays.write(type_name, field_name, rule, actor=actor, file_rule=file_rule)
        await self.refresh()
        return entry

    async def audit(self, last: int) -> list[AuditEntry]:
        return await self.overlays.audit(last)

    async def _follow(self) -> None:
        """Apply other instances' changes as they are announced; resubscribe after a lost connection."""
        while not self._stop.is_set():
            try:
                async for version in self.overlays.changes(self._stop):
                    if version != self.current.version:
                        await self._safe_refresh()
            except Exception as exc:
                log.warning("policy change feed lost (%s); resubscribing", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=1.0)
                await self._safe_refresh()  # catch up on what was announced while away

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self._safe_refresh()

    async def _safe_refresh(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # whatever went wrong, keep serving the last policy we had
            log.warning("policy overlays could not be refreshed (%s)", type(exc).__name__)

    async def stop(self) -> None:
        self._stop.set()  # the change feed ends within its next bounded wait (it is never cancelled)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._follower is not None:
            await self._follower
        self._follower = self._poller = None
        await self.overlays.aclose()
