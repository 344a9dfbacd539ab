"""Writes that must not be lost or doubled by a failover: idempotency records and erasure jobs.

    durable = DurableWrites(target, client, what="erasure jobs")
    [ok] = await durable.write("harmonia:erasure:{jobs}:open", [("SADD", key, job_id)])
    raw = await durable.read(lambda c: c.get(key))

Both ride out a failover: a command that fails on a lost connection is tried again, with backoff, for
up to ``target.failover_seconds`` (the time a Sentinel or a Cluster takes to promote a replica), then
``SharedUnavailable`` tells the caller to answer "retry later" rather than guess. A write is answered
only once a replica acknowledged it (``WAIT``, on the connection that wrote, so in one pipeline on the
master that owns the key), so a master killed right after cannot take it away. Write commands must be
safe to repeat (``SET NX`` with an owner token, scripts that check before they change): a command
whose answer was lost with the connection may have run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AskError, ClusterDownError, ReadOnlyError, ResponseError, TryAgainError

from harmonia.shared_state.client import DURABLE, Client, open_node_client
from harmonia.shared_state.outage import FAILURES, SharedUnavailable
from harmonia.shared_state.target import RedisTarget

log = logging.getLogger("harmonia.shared_state")
T = TypeVar("T")
WAIT_MS = 500                 # how long a write waits for a replica's acknowledgement
UNREPLICATED_SECONDS = 60.0   # no replica answered: stop waiting for one this long (logged)
# Answers that mean "the master changed": try again once the topology is known again.
FAILOVER_ANSWERS = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "READONLY", "LOADING", "MASTERDOWN", "NOREPLICAS")
# redis-py parses most of them into classes whose text has lost the word (a ClusterDownError in a
# pipeline reads "Command # 1 (SET ...) of pipeline caused error: The cluster is down").
FAILOVER_ERRORS = (ClusterDownError, TryAgainError, AskError, ReadOnlyError)


def failover_answer(exc: ResponseError) -> bool:
    """An answer a failover gives (wait and try again), not a mistake in the command."""
    if isinstance(exc, FAILOVER_ERRORS):
        return True
    answer = str(exc).rsplit("caused error: ", 1)[-1]   # a pipeline's prefix before the server's answer
    return answer.startswith(FAILOVER_ANSWERS)

Command = Sequence[Any]


class DurableWrites:
    def __init__(self, target: RedisTarget, client: Client, *, what: str) -> None:
        self.target = target
        self.client = client
        self.what = what
        self._nodes: dict[str, Redis] = {}
        self._unreplicated_until = 0.0

    async def read(self, call: Callable[[Client], Awaitable[T]]) -> T:
        """``call(client)``, tried again through a failover."""
        return await self._patiently(lambda: call(self.client))

    async def write(self, key: str, commands: Sequence[Command]) -> list[Any]:
        """``commands`` (all on ``key``'s slot) in one round trip, acknowledged by a replica when there is one."""
        return await self._patiently(lambda: self._write_once(key, commands))

    async def _write_once(self, key: str, commands: Sequence[Command]) -> list[Any]:
        wait = self.target.replicated and time.monotonic() >= self._unreplicated_until
        connection = await self._owner(key)
        pipe = connection.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        if wait:
            pipe.execute_command("WAIT", self.target.wait_replicas, WAIT_MS)
        results: list[Any] = await pipe.execute()
        if wait:
            acknowledged = results.pop()
            if int(acknowledged) < self.target.wait_replicas:
                log.warning("redis: no replica acknowledged a write of %s within %d ms; %s are kept on the "
                            "master alone (a failover now could lose the latest) for the next %.0f s", self.what,
                            WAIT_MS, self.what, UNREPLICATED_SECONDS)
                self._unreplicated_until = time.monotonic() + UNREPLICATED_SECONDS
        return results

    async def _owner(self, key: str) -> Client:
        """The connection to write on: a Cluster's master for ``key`` (WAIT must follow on the same link)."""
        if not isinstance(self.client, RedisCluster):
            return self.client
        if self.client._initialize:  # first use: learn the slots
            await self.client.initialize()
        node = self.client.get_node_from_key(key)
        if node is None:
            raise ConnectionError(f"no master serves the slot of {key!r} yet")  # mid-failover: try again
        found = self._nodes.get(node.name)
        if found is None:
            found = self._nodes[node.name] = open_node_client(self.target, DURABLE, node.host, int(node.port))
        return found

    async def _patiently(self, attempt: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.target.failover_seconds
        delay = 0.05
        while True:
            try:
                return await attempt()
            except FAILURES as exc:
                if isinstance(exc, ResponseError) and not failover_answer(exc):
                    raise  # a wrong command, not a failover: no amount of waiting mends it
                if time.monotonic() + delay > deadline:
                    raise SharedUnavailable(f"redis unavailable for {self.what} ({type(exc).__name__})") from None
                await self._forget_topology()
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)

    async def _forget_topology(self) -> None:
        if isinstance(self.client, RedisCluster):
            nodes, self._nodes = self._nodes, {}
            for node in nodes.values():
                await _quietly(node.aclose())
            with contextlib.suppress(*FAILURES):  # no node answers yet: the next attempt asks again
                await self.client.nodes_manager.initialize()

    async def aclose(self) -> None:
        for node in self._nodes.values():
            await _quietly(node.aclose())
        self._nodes = {}


async def _quietly(closing: Awaitable[Any]) -> None:
    with contextlib.suppress(*FAILURES):
        await closing
