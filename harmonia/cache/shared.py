"""Tier 2: Redis, shared by every gateway instance; optional, and never allowed to fail a query.

    tier = RedisTier("redis://127.0.0.1:6379/0", timeout=0.25, retry_after=5.0)
    found = await tier.get_many(["hm:v1:...", ...])        # one MGET; {} when Redis is down
    await tier.set_many({"hm:v1:...": (b"...", 90_000)})   # value, expiry in ms
    await tier.publish("hm:evict", b"...")

Every command has a short timeout and no retries; one failure opens a circuit, and for
``retry_after`` seconds the tier answers as if empty (reads) or does nothing (writes), so the
gateway goes on from tier 1 and the upstreams. ``listen`` keeps a pub/sub subscription alive
across Redis restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from harmonia.cache.circuit import Circuit

log = logging.getLogger("harmonia.cache")
T = TypeVar("T")
FAILURES = (redis.RedisError, OSError, asyncio.TimeoutError)


class RedisTier:
    def __init__(self, url: str, *, timeout: float = 0.25, retry_after: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self.circuit = Circuit(retry_after)
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                            retry=Retry(NoBackoff(), 0), health_check_interval=0)

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
            values: list[Any] = await self._client.mget(keys)
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
            return int(await self._client.unlink(*keys))

        return await self._guard(unlink, 0)

    async def delete_prefix(self, prefix: str) -> int:
        async def scan_and_unlink() -> int:
            removed = 0
            batch: list[Any] = []
            async for key in self._client.scan_iter(match=f"{prefix}*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(await self._client.unlink(*batch))
                    batch = []
            if batch:
                removed += int(await self._client.unlink(*batch))
            return removed

        return await self._guard(scan_and_unlink, 0, budget=max(5.0, self.timeout * 4))

    async def publish(self, channel: str, message: bytes) -> bool:
        async def send() -> bool:
            await self._client.publish(channel, message)
            return True

        return await self._guard(send, False)

    async def ping(self) -> bool:
        async def ping() -> bool:
            return bool(await self._client.ping())

        return await self._guard(ping, False)

    async def listen(self, channel: str, handle: Callable[[bytes], None],
                     subscribed: asyncio.Event | None = None) -> None:
        """Call ``handle`` with each message on ``channel``, forever; resubscribes after Redis comes back."""
        while True:
            client = redis.Redis.from_url(self.url, socket_connect_timeout=self.timeout,
                                          socket_timeout=None, retry=Retry(NoBackoff(), 0))
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                if subscribed is not None:
                    subscribed.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and isinstance(message.get("data"), bytes):
                        handle(message["data"])
            except FAILURES:
                await asyncio.sleep(self.circuit.retry_after / 5)
            finally:
                # Shielded: a second cancellation (the app closing while this one closes) must not leave
                # the client's connection to the garbage collector.
                await asyncio.shield(_close_subscription(pubsub, client))

    async def aclose(self) -> None:
        with contextlib.suppress(*FAILURES):
            await self._client.aclose()


async def _close_subscription(pubsub: Any, client: redis.Redis) -> None:
    """The subscription, then its client, each whatever became of the other."""
    with contextlib.suppress(*FAILURES):
        await pubsub.aclose()
    with contextlib.suppress(*FAILURES):
        await client.aclose()
