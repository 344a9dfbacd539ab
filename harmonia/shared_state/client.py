"""The one place that turns a ``RedisTarget`` into a redis-py client, with one policy per kind of use.

    client = open_client(target, HOT)          # pacing, circuits, budgets: fail fast, fall back
    client = open_client(target, PATIENT)      # credentials: a renewal waits rather than renew unlocked
    await client.get("k"); await client.aclose()

A ``Use`` fixes what a caller can afford: how long one command may take, how many connections, and
whether a command is retried. Hot paths never retry (a slow Redis must degrade to in-process state,
not stall every query); durable writes ride out a failover in ``DurableWrites`` instead, with backoff.
Standalone (``redis://``, ``rediss://``, ``unix://``), Sentinel (the master found through the
sentinels, found again after a failover) and Cluster (slots learned from any node, followed on
``MOVED``) all answer the same commands; multi-key commands and scripts must keep to one hash slot
(``harmonia.shared_state.keys``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from harmonia.shared_state.target import RedisTarget

Client = Redis | RedisCluster


@dataclass(frozen=True)
class Use:
    """How one kind of caller talks to Redis."""

    name: str
    timeout: float | None          # per command (socket read); None: wait for ever (subscriptions)
    connect_timeout: float
    max_connections: int
    blocking: bool = False         # standalone: queue for a free connection rather than fail


HOT = Use("hot", 0.5, 0.5, 64, blocking=True)   # pacing, circuits, GA4 quota, client budgets
CACHE = Use("cache", 0.25, 0.25, 64)             # entity cache and persisted queries (timeout from settings)
PATIENT = Use("patient", 3.0, 3.0, 8)            # credentials: renewals are rare, and must keep the shared lock
DURABLE = Use("durable", 2.0, 2.0, 32)           # idempotency records and erasure jobs (see DurableWrites)
ADMIN = Use("admin", 5.0, 2.0, 8)                # policy overlays and their audit, field usage, readiness
LISTEN = Use("listen", None, 2.0, 4)             # pub/sub subscriptions


def with_timeout(use: Use, timeout: float) -> Use:
    return Use(use.name, timeout, timeout, use.max_connections, use.blocking)


def open_client(target: RedisTarget, use: Use) -> Client:
    """A client of ``target`` for ``use``; the caller closes it (``await client.aclose()``)."""
    common = _common(target, use)
    if target.mode == "cluster":
        nodes = [ClusterNode(host, port) for host, port in target.nodes]
        # Retries here are for MOVED/ASK and topology refreshes (a failover): bounded by the use's timeout.
        return RedisCluster(startup_nodes=nodes, max_connections=use.max_connections, require_full_coverage=False,
                            retry=Retry(NoBackoff(), 1 if use.timeout is not None and use.timeout < 1 else 3),
                            **common, **_tls(target))
    if target.mode == "sentinel":
        sentinel_side = {"socket_timeout": use.connect_timeout, "socket_connect_timeout": use.connect_timeout,
                         **_tls(target)}
        if target.sentinel_password:
            sentinel_side["password"] = target.sentinel_password
        sentinel = Sentinel(list(target.nodes), sentinel_kwargs=sentinel_side)
        assert target.sentinel_master is not None
        client: _SentinelMaster = sentinel.master_for(
            target.sentinel_master, redis_class=_SentinelMaster, db=target.db, max_connections=use.max_connections,
            **common, **_tls(target))
        client.sentinels_of_master = sentinel
        return client
    # The URL's scheme picks the connection class (rediss: TLS); the files come as keyword arguments.
    kwargs: dict[str, Any] = {**common, **{k: v for k, v in _tls(target).items() if k != "ssl"}}
    if use.blocking:
        pool = BlockingConnectionPool.from_url(target.url, max_connections=use.max_connections,
                                               timeout=use.connect_timeout, **kwargs)
        return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it
    return Redis.from_url(target.url, max_connections=use.max_connections, **kwargs)


def _common(target: RedisTarget, use: Use) -> dict[str, Any]:
    common: dict[str, Any] = {"socket_timeout": use.timeout, "socket_connect_timeout": use.connect_timeout,
                              "health_check_interval": 0}
    if target.mode != "standalone":
        common["username"] = target.username
        common["password"] = target.password
    if target.mode != "cluster":
        # The caller decides what a failure means (fallback, or DurableWrites' patience): no hidden retries.
        common["retry"] = Retry(NoBackoff(), 0)
    return common


def _tls(target: RedisTarget) -> dict[str, Any]:
    if target.tls is None:
        return {}
    return {k: v for k, v in target.tls.kwargs().items() if v is not None}


class _SentinelMaster(Redis):
    """The master as the sentinels name it; closing it closes the sentinel connections too."""

    sentinels_of_master: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            if self.sentinels_of_master is not None:
                await self.sentinels_of_master.aclose()


def open_node_client(target: RedisTarget, use: Use, host: str, port: int) -> Redis:
    """A plain client of one node of ``target`` (a Cluster's slot owner), with its credentials and TLS."""
    common = _common(target, use)
    common.setdefault("retry", Retry(NoBackoff(), 0))
    return Redis(host=host, port=port, max_connections=use.max_connections, **common, **_tls(target))
