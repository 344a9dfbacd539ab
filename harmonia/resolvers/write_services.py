"""What mutations share across requests: idempotency keys, erasure jobs and the shared-cache eviction hook.

    services = WriteServices.build(settings, sources)      # once, in create_app
    services.start()                                       # resumes unfinished erasure jobs
    await services.invalidate_shared("hubspot", "contact", "151")
    await services.aclose()

With ``redis_url`` set, idempotency records and erasure jobs live in Redis (shared by every
instance, surviving restarts and failovers: ``harmonia.shared_state.DurableWrites``); without it they
live in this process only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from harmonia.resolvers.erasure import ErasureService
from harmonia.resolvers.erasure_store import erasure_store
from harmonia.resolvers.idempotency import IdempotencyStore
from harmonia.settings import Settings
from harmonia.shared_state import DURABLE, DurableWrites, RedisTarget, open_client

if TYPE_CHECKING:
    from harmonia.resolvers.context import Sources

Invalidate = Callable[[str, str, str], Awaitable[None]]


async def no_shared_cache(source: str, entity: str, key: str) -> None:
    """Nothing to evict until a shared entity cache is configured (it replaces this hook)."""


class WriteServices:
    def __init__(self, durable: DurableWrites | None, idempotency: IdempotencyStore,
                 erasure_for: Callable[[WriteServices], ErasureService]) -> None:
        self.durable = durable
        self.idempotency = idempotency
        # The entity cache sets this to its own eviction (both tiers, every instance).
        self.shared_invalidation: Invalidate = no_shared_cache
        self.erasure = erasure_for(self)

    @classmethod
    def build(cls, settings: Settings, sources: Sources) -> WriteServices:
        target = RedisTarget.from_settings(settings)
        durable = DurableWrites(target, open_client(target, DURABLE), what="idempotency records and erasure jobs") \
            if target is not None else None
        return cls(durable, IdempotencyStore(durable, settings.idempotency),
                   lambda services: ErasureService(erasure_store(durable, settings.erasure), sources,
                                                   settings.erasure, services.invalidate_shared))

    async def invalidate_shared(self, source: str, entity: str, key: str) -> None:
        await self.shared_invalidation(source, entity, key)

    def start(self) -> None:
        self.erasure.start()

    async def aclose(self) -> None:
        await self.erasure.stop()
        if self.durable is not None:
            await self.durable.aclose()
            await self.durable.client.aclose()
