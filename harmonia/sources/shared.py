"""Redis as the state every gateway instance shares for upstream discipline, and what to do without it.

    shared = SharedRedis.connect(RedisTarget.from_settings(settings))   # None when no Redis is configured
    granted = await shared.run(script, keys=["k"], args=[1])   # raises SharedUnavailable when Redis is down

Circuit breakers and pacers call Redis on the hot path of every upstream request, so a Redis that is
down must not cost a timeout per call: the first failure marks it down for ``cooldown`` seconds, during
which ``run`` fails at once and callers use their in-process fallback (``harmonia.shared_state``'s
policy). Every script touches one key, or keys under one hash tag, so it runs on a Redis Cluster too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harmonia.shared_state import (
    FAILURES,
    HOT,
    Client,
    Outage,
    RedisTarget,
    SharedUnavailable,
    Use,
    open_client,
    with_timeout,
)

__all__ = ["SharedRedis", "SharedUnavailable"]


class SharedRedis:
    def __init__(self, client: Client, *, cooldown: float = 1.0, what: str = "pacing and circuits") -> None:
        self.client = client
        self.outage = Outage(what, cooldown)
        self._scripts: dict[str, Any] = {}

    @classmethod
    def connect(cls, target: RedisTarget | str | None, *, use: Use = HOT, timeout: float | None = None,
                what: str = "pacing and circuits") -> SharedRedis | None:
        """``target`` (a plain URL: a standalone Redis); None: no Redis configured."""
        if not target:
            return None
        if isinstance(target, str):
            target = RedisTarget.parse(target)
        return cls(open_client(target, use if timeout is None else with_timeout(use, timeout)), what=what)

    @property
    def up(self) -> bool:
        return self.outage.up

    async def run(self, script: str, keys: Sequence[str], args: Sequence[str | int | float]) -> object:
        """Evaluate a Lua ``script`` (sent once, then by SHA)."""
        if not self.outage.up:
            raise SharedUnavailable("redis is cooling down")
        registered = self._scripts.get(script)
        if registered is None:
            registered = self._scripts[script] = self.client.register_script(script)
        try:
            result = await registered(keys=list(keys), args=list(args))
        except FAILURES as exc:
            self.outage.failed(exc)
            raise SharedUnavailable(type(exc).__name__) from None
        self.outage.succeeded()
        return result

    async def aclose(self) -> None:
        await self.client.aclose()
