"""Erasure jobs as data, and where they are kept: Redis when configured (durable, shared), else this process.

    store = erasure_store(redis_client_or_None, settings.erasure)
    job = await store.create(ErasureJob.new("151", "dpo@example.com", steps))   # or the customer's job already open
    await store.acquire(job.id, owner, ttl=30.0)        # one instance drives a job at a time
    await store.save(job); await store.finish(job)      # finish: off the open set, audit appended

Redis keys (under ``erasure.key_prefix``): ``job:{id}`` (the job as JSON), ``customer:{id}`` (its
latest job), ``open`` (a set of unfinished job ids: what a restarted instance resumes),
``lease:{id}`` (the instance driving it, expiring unless renewed) and ``audit`` (a list of every
finished job's audit record). Without Redis the same lives in dicts and dies with the process.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import redis.asyncio as redis

from harmonia.settings import ErasureSettings

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


# Compare-and-act on a lease, atomically: only its owner renews or releases it.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisErasureStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.p = prefix

    async def create(self, job: ErasureJob) -> ErasureJob:
        # The customer's job is claimed first, so two requests at once start one job.
        if not await self.r.set(f"{self.p}customer:{job.customer_id}", job.id, nx=True):
            existing = await self.for_customer(job.customer_id)
            if existing is not None and existing.state != FAILED:
                return existing
            await self.r.set(f"{self.p}customer:{job.customer_id}", job.id)
        async with self.r.pipeline(transaction=True) as tx:
            tx.set(f"{self.p}job:{job.id}", job.to_json())
            tx.sadd(f"{self.p}open", job.id)
            await tx.execute()
        return job

    async def load(self, job_id: str) -> ErasureJob | None:
        raw = await self.r.get(f"{self.p}job:{job_id}")
        return ErasureJob.from_json(raw) if raw is not None else None

    async def for_customer(self, customer_id: str) -> ErasureJob | None:
        job_id = await self.r.get(f"{self.p}customer:{customer_id}")
        return await self.load(_text(job_id)) if job_id is not None else None

    async def save(self, job: ErasureJob) -> None:
        await self.r.set(f"{self.p}job:{job.id}", job.to_json())

    async def finish(self, job: ErasureJob) -> None:
        async with self.r.pipeline(transaction=True) as tx:
            tx.set(f"{self.p}job:{job.id}", job.to_json())
            tx.srem(f"{self.p}open", job.id)
            tx.rpush(f"{self.p}audit", orjson.dumps(job.audit))
            await tx.execute()

    async def open_ids(self) -> list[str]:
        return sorted(_text(m) for m in await self.r.smembers(f"{self.p}open"))

    async def acquire(self, job_id: str, owner: str, ttl: float) -> bool:
        return bool(await self.r.set(f"{self.p}lease:{job_id}", owner, nx=True, px=int(ttl * 1000)))

    async def renew(self, job_id: str, owner: str, ttl: float) -> bool:
        return bool(await self.r.eval(_RENEW, 1, f"{self.p}lease:{job_id}", owner, int(ttl * 1000)))

    async def release(self, job_id: str, owner: str) -> None:
        await self.r.eval(_RELEASE, 1, f"{self.p}lease:{job_id}", owner)

    async def audit_log(self) -> list[dict[str, Any]]:
        return [orjson.loads(raw) for raw in await self.r.lrange(f"{self.p}audit", 0, -1)]


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


def erasure_store(client: redis.Redis | None, settings: ErasureSettings) -> ErasureStore:
    return RedisErasureStore(client, settings.key_prefix) if client is not None else LocalErasureStore()
