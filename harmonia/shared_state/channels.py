"""Pub/sub that every gateway instance hears, whatever the topology: sharded pub/sub on a Cluster.

    channel = Channel(target, "hm:v1:evict")
    await channel.publish(client, b"...")                     # SPUBLISH on a Cluster, else PUBLISH
    async for message in channel.messages(stop): ...         # one subscription; raises when it is lost
    await channel.listen(handle, subscribed=event)            # for ever, resubscribing after a failure

On a Cluster a plain PUBLISH is copied to every node over the cluster bus; a shard channel lives on
the node that owns its slot, so ``SPUBLISH``/``SSUBSCRIBE`` cost one node. The subscriber connects to
that node itself and, when the node fails (or the slot moves: Redis then sends ``sunsubscribe``),
looks the owner up again and resubscribes. A script that announces a change names the channel as one
of its keys (same hash tag) and calls ``channel.publish_command``. Messages sent while a subscriber
was away are lost: callers that cannot afford that (policy overlays) also poll a version.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from harmonia.shared_state.client import LISTEN, Client, open_client, open_node_client
from harmonia.shared_state.outage import FAILURES
from harmonia.shared_state.target import RedisTarget

DATA = {"message", "smessage", b"message", b"smessage"}
LOST = {"sunsubscribe", b"sunsubscribe"}  # the slot moved away from the node we listen on


class SubscriptionLost(ConnectionError):
    """The node that held the subscription gave the channel up."""


class Channel:
    def __init__(self, target: RedisTarget, name: str, *, retry_seconds: float = 1.0) -> None:
        self.target = target
        self.name = name
        self.sharded = target.mode == "cluster"
        self.retry_seconds = retry_seconds

    @property
    def publish_command(self) -> str:
        return "SPUBLISH" if self.sharded else "PUBLISH"

    async def publish(self, client: Client, message: bytes | str) -> None:
        if self.sharded:
            await client.spublish(self.name, message)
        else:
            await client.publish(self.name, message)

    async def messages(self, stop: asyncio.Event | None = None,
                       subscribed: asyncio.Event | None = None) -> AsyncIterator[bytes]:
        """Messages of one subscription until ``stop`` is set; raises what ended it otherwise."""
        client, pubsub = await self._subscribe()
        try:
            if subscribed is not None:
                subscribed.set()
            while stop is None or not stop.is_set():
                # Bounded waits, and no cancellation mid-read: redis-py's pubsub can hang closing after one.
                message: Any = await pubsub.get_message(ignore_subscribe_messages=False, timeout=0.25)
                if message is None:
                    continue
                if message.get("type") in LOST:
                    raise SubscriptionLost(self.name)
                if message.get("type") in DATA and isinstance(message.get("data"), bytes):
                    yield message["data"]
        finally:
            # Shielded: a second cancellation (the app closing) must not leave the connection to the GC.
            await asyncio.shield(_close(pubsub, client))

    async def listen(self, handle: Callable[[bytes], None], *, subscribed: asyncio.Event | None = None,
                     stop: asyncio.Event | None = None) -> None:
        """Call ``handle`` with every message until ``stop`` (or cancellation), resubscribing after failures."""
        while stop is None or not stop.is_set():
            try:
                async for message in self.messages(stop, subscribed):
                    handle(message)
            except FAILURES:
                await asyncio.sleep(self.retry_seconds)

    async def _subscribe(self) -> tuple[Client, Any]:
        if not self.sharded:
            client = open_client(self.target, LISTEN)
            pubsub = client.pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(self.name)
            except BaseException:
                await asyncio.shield(_close(pubsub, client))
                raise
            return client, pubsub
        host, port = await self._owner()
        node = open_node_client(self.target, LISTEN, host, port)
        pubsub = node.pubsub(ignore_subscribe_messages=False)
        try:
            await pubsub.ssubscribe(self.name)
        except BaseException:
            await asyncio.shield(_close(pubsub, node))
            raise
        return node, pubsub

    async def _owner(self) -> tuple[str, int]:
        """The node that owns the channel's slot now (a fresh look at the topology each time)."""
        cluster = open_client(self.target, LISTEN)
        assert isinstance(cluster, RedisCluster)
        try:
            await cluster.initialize()
            node = cluster.get_node_from_key(self.name)
            if node is None:
                raise ConnectionError(f"no master serves the slot of channel {self.name!r} yet")
            return node.host, int(node.port)
        finally:
            await cluster.aclose()


async def _close(pubsub: Any, client: Client | Redis) -> None:
    """The subscription, then its client, each whatever became of the other."""
    with contextlib.suppress(*FAILURES):
        await pubsub.aclose()
    with contextlib.suppress(*FAILURES):
        await client.aclose()
