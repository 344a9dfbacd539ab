"""Redis as the state every gateway instance shares for upstream discipline, and what to do without it.

    shared = SharedRedis.connect(settings.redis_url)        # None when no Redis is configured
    granted = await shared.run(script, keys=["k"], args=[1])  # raises SharedUnavailable when Redis is down

Circuit breakers and pacers call Redis on the hot path of every upstream request, so a Redis that is
down must not cost a timeout per call: the first failure marks it down for ``cooldown`` seconds, during
which ``run`` fails at once and callers use their in-process fallback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis.asyncio as redis
from redis.commands.core import AsyncScript

log = logging.getLogger("harmonia.sources.shared")


class SharedUnavailable(Exception):
    """Redis could not be reached (or is in its cool-down): use the in-process state."""


class SharedRedis:
    def __init__(self, client: redis.Redis, *, cooldown: float = 1.0) -> None:
        self.client = client
        self.cooldown = cooldown
        self._down_until = 0.0
        self._scripts: dict[str, AsyncScript] = {}

    @classmethod
    def connect(cls, url: str | None, *, timeout: float = 0.5, max_connections: int = 64) -> SharedRedis | None:
        if not url:
            return None
        # Short timeouts: a slow Redis must degrade pacing to in-process, never stall every upstream call.
        # A blocking pool: a burst of upstream calls queues for a connection rather than failing over.
        pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout,
                                                     socket_connect_timeout=timeout, socket_timeout=timeout)
        return cls(redis.Redis.from_pool(pool))  # the client owns the pool: aclose() closes it

    @property
    def up(self) -> bool:
        return time.monotonic() >= self._down_until

    async def run(self, script: str, keys: Sequence[str], args: Sequence[str | int | float]) -> object:
        """Evaluate a Lua ``script`` (sent once, then by SHA)."""
        if not self.up:
            raise SharedUnavailable("redis is cooling down")
        registered = self._scripts.get(script)
        if registered is None:
            registered = self._scripts[script] = self.client.register_script(script)
        try:
            return await registered(keys=list(keys), args=list(args))
        except (redis.RedisError, OSError, TimeoutError) as exc:
            if self.up:
                # Once per outage, not once per call; the URL may hold a password, so it is not logged.
                log.warning("shared upstream state unavailable, pacing and circuits fall back to "
                            "in-process: %s", type(exc).__name__)
            self._down_until = time.monotonic() + self.cooldown
            raise SharedUnavailable(str(exc)) from None

    async def aclose(self) -> None:
        await self.client.aclose()
