"""The shared state of every gateway instance: the one package that talks to Redis.

    target = RedisTarget.from_settings(settings)        # None: no Redis, every feature in process
    client = open_client(target, HOT)                   # standalone, TLS, Sentinel or Cluster alike
    outage = Outage("pacing and circuits", cooldown=1.0)   # fail fast, fall back, log once
    key = tagged("harmonia:pace:", "hubspot:3f2a", "window")   # multi-key work stays in one slot
    await Channel(target, "hm:v1:evict").publish(client, b"...")   # sharded on a Cluster
    await DurableWrites(target, client, what="idempotency").write(key, [("SET", key, b"v")])

    target.py    settings -> where Redis is (mode, nodes, TLS files, sentinel master)
    client.py    target + Use -> a redis-py client; the Uses (HOT, CACHE, PATIENT, DURABLE, ADMIN, LISTEN)
    outage.py    FAILURES, SharedUnavailable, Outage: the fallback policy
    keys.py      hash tags
    channels.py  pub/sub on every topology
    durable.py   writes that survive a failover (retried with patience, acknowledged by a replica)

Nothing else in Harmonia imports ``redis`` (an import-linter contract keeps it so).
"""

from harmonia.shared_state.channels import Channel, SubscriptionLost
from harmonia.shared_state.client import (
    ADMIN,
    CACHE,
    DURABLE,
    HOT,
    LISTEN,
    PATIENT,
    Client,
    Use,
    open_client,
    with_timeout,
)
from harmonia.shared_state.durable import DurableWrites
from harmonia.shared_state.keys import tag_text, tagged
from harmonia.shared_state.outage import FAILURES, Outage, SharedUnavailable
from harmonia.shared_state.target import RedisTarget, Tls

__all__ = ["ADMIN", "CACHE", "DURABLE", "FAILURES", "HOT", "LISTEN", "PATIENT", "Channel", "Client", "DurableWrites",
           "Outage", "RedisTarget", "SharedUnavailable", "SubscriptionLost", "Tls", "Use", "open_client",
           "tag_text", "tagged", "with_timeout"]
