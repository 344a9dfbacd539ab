"""Tier 2: Redis, shared by every gateway instance; optional, and never allowed to fail a query.

    tier = RedisTier(RedisTarget.parse("redis://127.0.0.1:6379/0"), timeout=0.25, retry_after=5.0)
    found = await tier.get_many(["hm:v1:{hubspot:contact}:...", ...])   # {} when Redis is down
    await tier.set_many({"hm:v1:...": (b"...", 90_000)})   # value, expiry in ms
    await tier.publish("hm:v1:evict", b"...")

Every command has a short timeout and no retries; one failure opens a circuit, and for
``retry_after`` seconds the tier answers as if empty (reads) or does nothing (writes), so the
gateway goes on from tier 1 and the upstreams. ``listen`` keeps a pub/sub subscription alive
across Redis restarts and failovers (sharded pub/sub on a Cluster). On a Cluster, reads of keys
in several slots are split per slot (keys of one cache kind share a hash tag, so a batch is one MGET),
and writes and deletes go in pipelines, one command per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from harmonia.cache.circuit import Circuit
from harmonia.shared_state import CACHE, FAILURES, Channel, RedisTarget, open_client, with_timeout

log = logging.getLogger("harmonia.cache")
T = TypeVar("T")


class RedisTier:
    def __init__(self, target: RedisTarget | str, *, timeout: float = 0.25, retry_after: float = 5.0) -> None:
        self.target = RedisTarget.parse(target) if isinstance(target, str) else target
        self.timeout = timeout
        self.circuit = Circuit(retry_after)
        self._client = open_client(self.target, with_timeout(CACHE, timeout))
        self._channels: dict[str, Channel] = {}

    @property
    def state(self) -> str:
        return "circuit open" if self.circuit.is_open else "ok"

    async def _guard(self, call: Callable[[], Awaitable[T]], default: T, *, budget: float | None = None) -> T:
        if not self.circuit.allows():
            return default
        try:
            # Belt and braces over the socket timeouts: a command never holds a query longer than this.
            result = await asyncio.wait_for(call(), budget if budget is not None else self.timeout * 4)
        except FAILURES as exc:
            if not self.circuit.is_open:
                log.warning("redis unavailable (%s); in-process cache only for %.0f s",
                            type(exc).__name__, self.circuit.retry_after)
            self.circuit.failed()
            return default
        self.circuit.succeeded()
        return result

    async def get_many(self, keys: list[str]) -> dict[str, bytes]:
        if not keys:
            return {}

        async def mget() -> dict[str, bytes]:
            values: list[Any]
            if self.target.mode == "cluster":
                values = await self._client.mget_nonatomic(keys)  # type: ignore[union-attr]  # one MGET per slot
            else:
                values = await self._client.mget(keys)
            return {k: v for k, v in zip(keys, values, strict=True) if v is not None}

        return await self._guard(mget, {})

    async def get(self, key: str) -> bytes | None:
        found = await self.get_many([key])
        return found.get(key)

    async def set_many(self, items: dict[str, tuple[bytes, int]]) -> None:
        if not items:
            return

        async def write() -> None:
            pipe = self._client.pipeline(transaction=False)
            for key, (value, px) in items.items():
                pipe.set(key, value, px=max(1, px))
            await pipe.execute()

        await self._guard(write, None)

    async def delete(self, keys: list[str]) -> int:
        if not keys:
            return 0

        async def unlink() -> int:
            # One command per key: the keys may lie in several slots of a Cluster.
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command("UNLINK", key)
            return sum(int(n) for n in await pipe.execute())

        return await self._guard(unlink, 0)

    async def delete_prefix(self, prefix: str) -> int:
        async def scan_and_unlink() -> int:
            removed = 0
            batch: list[Any] = []
            # On a Cluster, scan_iter walks every master.
            async for key in self._client.scan_iter(match=f"{_glob_escape(prefix)}*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += await self._unlink_each(batch)
                    batch = []
            if batch:
                removed += await self._unlink_each(batch)
            return removed

        return await self._guard(scan_and_unlink, 0, budget=max(5.0, self.timeout * 4))

    async def _unlink_each(self, keys: list[Any]) -> int:
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("UNLINK", key)
        return sum(int(n) for n in await pipe.execute())

    def _channel(self, name: str) -> Channel:
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = Channel(self.target, name, retry_seconds=self.circuit.retry_after / 5)
        return channel

    async def publish(self, channel: str, message: bytes) -> bool:
        async def send() -> bool:
            await self._channel(channel).publish(self._client, message)
            return True

        return await self._guard(send, False)

    async def ping(self) -> bool:
        async def ping() -> bool:
            return bool(await self._client.ping())

        return await self._guard(ping, False)

    async def listen(self, channel: str, handle: Callable[[bytes], None],
                     subscribed: asyncio.Event | None = None) -> None:
        """Call ``handle`` with each message on ``channel``, forever; resubscribes after Redis comes back."""
        await self._channel(channel).listen(handle, subscribed=subscribed)

    async def aclose(self) -> None:
        with contextlib.suppress(*FAILURES):
            await self._client.aclose()


def _glob_escape(text: str) -> str:
    """``text`` as a literal inside a SCAN MATCH pattern (hash tags hold braces; ids may hold ``*``)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
