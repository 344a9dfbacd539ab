"""Erasure jobs as data, and where they are kept: Redis when configured (durable, shared), else this process.

    store = erasure_store(durable_writes_or_None, settings.erasure)
    job = await store.create(ErasureJob.new("151", "dpo@example.com", steps))   # or the customer's job already open
    await store.acquire(job.id, owner, ttl=30.0)        # one instance drives a job at a time
    await store.save(job); await store.finish(job)      # finish: off the open set, audit appended

Redis keys (under ``erasure.key_prefix`` and the hash tag ``{jobs}``, so a Cluster keeps them on one
node): ``job:<id>`` (the job as JSON), ``customer:<id>`` (its latest job), ``open`` (a set of unfinished
job ids: what a restarted instance resumes), ``lease:<id>`` (the instance driving it, expiring unless
renewed) and ``audit`` (a list of every finished job's audit record). Every write rides out a failover
and is acknowledged by a replica before it counts (``DurableWrites``); finishing a job twice appends
its audit once. Without Redis the same lives in dicts and dies with the process.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from harmonia.settings import ErasureSettings
from harmonia.shared_state import Client, DurableWrites, tagged

RUNNING, COMPLETED, FAILED = "RUNNING", "COMPLETED", "FAILED"
PENDING, RETRYING, CONFIRMED, NOT_APPLICABLE = "PENDING", "RETRYING", "CONFIRMED", "NOT_APPLICABLE"
OPEN_STEPS = frozenset({PENDING, RETRYING})


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ErasureStep:
    """One source's part: its state, the attempts made, and what the source confirmed."""

    source: str
    state: str = PENDING
    target: str | None = None          # the record at the source: contact id, customer id, subscriber hash
    attempts: int = 0
    next_attempt_at: float = 0.0       # epoch seconds
    last_error: str | None = None
    outcome: str | None = None         # DELETED | ANONYMISED | ABSENT | NOT_APPLICABLE
    mechanism: str | None = None
    http_status: int | None = None
    confirmed_at: str | None = None


@dataclass
class ErasureJob:
    id: str
    customer_id: str
    requested_by: str
    requested_at: str
    steps: list[ErasureStep]
    state: str = RUNNING
    completed_at: str | None = None
    # What the steps need to find the person (their email); removed once the job ends.
    subject: dict[str, str] = field(default_factory=dict)
    audit: dict[str, Any] | None = None

    @classmethod
    def new(cls, customer_id: str, requested_by: str, steps: list[ErasureStep],
            subject: dict[str, str]) -> ErasureJob:
        return cls(id=uuid.uuid4().hex, customer_id=customer_id, requested_by=requested_by,
                   requested_at=now_iso(), steps=steps, subject=subject)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> ErasureJob:
        data = orjson.loads(raw)
        data["steps"] = [ErasureStep(**s) for s in data["steps"]]
        return cls(**data)

    def step(self, source: str) -> ErasureStep:
        return next(s for s in self.steps if s.source == source)

    @property
    def open_steps(self) -> list[ErasureStep]:
        return [s for s in self.steps if s.state in OPEN_STEPS]


class ErasureStore(Protocol):
    async def create(self, job: ErasureJob) -> ErasureJob: ...
    async def load(self, job_id: str) -> ErasureJob | None: ...
    async def for_customer(self, customer_id: str) -> ErasureJob | None: ...
    async def save(self, job: ErasureJob) -> None: ...
    async def finish(self, job: ErasureJob) -> None: ...
    async def open_ids(self) -> list[str]: ...
    async def acquire(self, job_id: str, owner: str, ttl: float) -> bool: ...
    async def renew(self, job_id: str, owner: str, ttl: float) -> bool: ...
    async def release(self, job_id: str, owner: str) -> None: ...
    async def audit_log(self) -> list[dict[str, Any]]: ...


# A lease taken, or already ours (a retried command whose first answer was lost): 1; held by another: 0.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Compare-and-act on a lease, atomically: only its owner renews or releases it.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
# KEYS: job, open set. ARGV: job id, job JSON. Saved and listed as open, together.
_OPEN = "redis.call('SET', KEYS[1], ARGV[2]) redis.call('SADD', KEYS[2], ARGV[1]) return 1"
# KEYS: job, open set, audit. ARGV: job id, job JSON, audit JSON. The audit is appended only by the call
# that took the job off the open set: a finish repeated after a lost answer (or a failover) adds none.
_FINISH = """
redis.call('SET', KEYS[1], ARGV[2])
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 then redis.call('RPUSH', KEYS[3], ARGV[3]) return 1 end
return 0
"""


class RedisErasureStore:
    """Jobs in Redis, all under one hash tag (``<prefix>{jobs}:...``): few keys, one slot, atomic scripts."""

    def __init__(self, durable: DurableWrites, prefix: str) -> None:
        self.d = durable
        self.legacy = prefix
        self.p = tagged(prefix, "jobs") + ":"
        self._migrated = durable.target.mode == "cluster"  # no release before this one ran on a Cluster

    async def create(self, job: ErasureJob) -> ErasureJob:
        await self._migrate()
        # The customer's job is claimed first, so two requests at once start one job.
        claim = f"{self.p}customer:{job.customer_id}"
        [claimed] = await self.d.write(claim, [("SET", claim, job.id, "NX")])
        if not claimed:
            holder = await self.d.read(lambda c: c.get(claim))
            if holder is not None and _text(holder) != job.id:
                existing = await self.load(_text(holder))
                if existing is not None and existing.state != FAILED:
                    return existing
                await self.d.write(claim, [("SET", claim, job.id)])
        key = f"{self.p}job:{job.id}"
        await self.d.write(key, [("EVAL", _OPEN, 2, key, f"{self.p}open", job.id, job.to_json())])
        return job

    async def load(self, job_id: str) -> ErasureJob | None:
        key = f"{self.p}job:{job_id}"
        raw = await self.d.read(lambda c: c.get(key))
        return ErasureJob.from_json(raw) if raw is not None else None

    async def for_customer(self, customer_id: str) -> ErasureJob | None:
        await self._migrate()
        key = f"{self.p}customer:{customer_id}"
        job_id = await self.d.read(lambda c: c.get(key))
        return await self.load(_text(job_id)) if job_id is not None else None

    async def save(self, job: ErasureJob) -> None:
        key = f"{self.p}job:{job.id}"
        await self.d.write(key, [("SET", key, job.to_json())])

    async def finish(self, job: ErasureJob) -> None:
        key = f"{self.p}job:{job.id}"
        await self.d.write(key, [("EVAL", _FINISH, 3, key, f"{self.p}open", f"{self.p}audit", job.id, job.to_json(),
                                  orjson.dumps(job.audit))])

    async def open_ids(self) -> list[str]:
        await self._migrate()
        key = f"{self.p}open"
        return sorted(_text(m) for m in await self.d.read(lambda c: c.smembers(key)))

    async def acquire(self, job_id: str, owner: str, ttl: float) -> bool:
        return await self._lease(_ACQUIRE, job_id, owner, ttl)

    async def renew(self, job_id: str, owner: str, ttl: float) -> bool:
        return await self._lease(_RENEW, job_id, owner, ttl)

    async def release(self, job_id: str, owner: str) -> None:
        key = f"{self.p}lease:{job_id}"
        await self.d.write(key, [("EVAL", _RELEASE, 1, key, owner)])

    async def _lease(self, script: str, job_id: str, owner: str, ttl: float) -> bool:
        key = f"{self.p}lease:{job_id}"
        [answer] = await self.d.write(key, [("EVAL", script, 1, key, owner, int(ttl * 1000))])
        return bool(answer)

    async def audit_log(self) -> list[dict[str, Any]]:
        await self._migrate()
        key = f"{self.p}audit"
        return [orjson.loads(raw) for raw in await self.d.read(lambda c: c.lrange(key, 0, -1))]

    async def _migrate(self) -> None:
        """Move jobs kept by releases before the hash tag (``<prefix>job:<id>``, ...) to their tagged keys."""
        if not self._migrated:
            await self.d.read(self._migrate_with)
            self._migrated = True

    async def _migrate_with(self, client: Client) -> None:
        for name in ("open", "audit"):
            await client.eval(_MIGRATE, 2, f"{self.legacy}{name}", f"{self.p}{name}")
        for kind in ("job", "customer", "lease"):
            async for old in client.scan_iter(match=f"{self.legacy}{kind}:*", count=500):
                text = _text(old)
                await client.eval(_MIGRATE, 2, text, self.p + text[len(self.legacy):])


# Renames a key of the layout before hash tags to its tagged name, unless that one exists already.
_MIGRATE = """
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class LocalErasureStore:
    """In this process only: jobs survive nothing, which the README says; fine for the demo."""

    def __init__(self) -> None:
        self.jobs: dict[str, bytes] = {}
        self.customers: dict[str, str] = {}
        self.open: set[str] = set()
        self.leases: dict[str, tuple[str, float]] = {}
        self.audit: list[dict[str, Any]] = []

    async def create(self, job: ErasureJob) -> ErasureJob:
        existing = await self.for_customer(job.customer_id)
        if existing is not None and existing.state != FAILED:
            return existing
        self.customers[job.customer_id] = job.id
        self.jobs[job.id] = job.to_json()
        self.open.add(job.id)
        return job

    async def load(self, job_id: str) -> ErasureJob | None:
        raw = self.jobs.get(job_id)
        return ErasureJob.from_json(raw) if raw is not None else None

    async def for_customer(self, customer_id: str) -> ErasureJob | None:
        job_id = self.customers.get(customer_id)
        return await self.load(job_id) if job_id else None

    async def save(self, job: ErasureJob) -> None:
        self.jobs[job.id] = job.to_json()

    async def finish(self, job: ErasureJob) -> None:
        self.jobs[job.id] = job.to_json()
        self.open.discard(job.id)
        if job.audit is not None:
            self.audit.append(job.audit)

    async def open_ids(self) -> list[str]:
        return sorted(self.open)

    async def acquire(self, job_id: str, owner: str, ttl: float) -> bool:
        held = self.leases.get(job_id)
        if held is not None and held[0] != owner and held[1] > time.monotonic():
            return False
        self.leases[job_id] = (owner, time.monotonic() + ttl)
        return True

    async def renew(self, job_id: str, owner: str, ttl: float) -> bool:
        return await self.acquire(job_id, owner, ttl)

    async def release(self, job_id: str, owner: str) -> None:
        if self.leases.get(job_id, ("", 0.0))[0] == owner:
            del self.leases[job_id]

    async def audit_log(self) -> list[dict[str, Any]]:
        return list(self.audit)


def erasure_store(durable: DurableWrites | None, settings: ErasureSettings) -> ErasureStore:
    return RedisErasureStore(durable, settings.key_prefix) if durable is not None else LocalErasureStore()
