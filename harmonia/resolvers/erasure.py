"""Erasing a person from every source, as a durable job that outlives the request and the process.

    service = ErasureService(store, sources, settings.erasure, invalidate)
    service.start()                                   # at startup: resumes unfinished jobs, then watches
    job = await service.request(contact, requested_by="dpo@example.com")    # returns at once
    job = await service.status("151")                 # per source: PENDING, RETRYING, CONFIRMED, ...
    await service.stop()

Each source is a step with its own state, attempts and backoff; a failed step is retried
(``retry_base_seconds`` doubling up to ``retry_max_seconds``) while the others go on. The state is
saved after every attempt, so an instance that stops mid-job loses nothing: its lease on the job
lapses and whichever instance looks next (every ``poll_seconds``, and at startup) carries on. When
every step is settled the job ends with an audit record: who asked, when, and what each source confirmed.

Mechanisms: HubSpot's GDPR delete; Mailchimp's permanent delete; Shopify's
``customerRequestDataErasure`` (Shopify redacts the person on its own schedule and keeps what was
sold, when and for how much, as bookkeeping law requires: ERASURE_REQUESTED). GA4 and Google Ads
hold only aggregates here: NOT_APPLICABLE.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from harmonia.errors import HarmoniaError, StateUnavailable
from harmonia.resolvers.erasure_store import (
    COMPLETED,
    CONFIRMED,
    FAILED,
    NOT_APPLICABLE,
    RETRYING,
    RUNNING,
    ErasureJob,
    ErasureStep,
    ErasureStore,
    now_iso,
)
from harmonia.settings import ErasureSettings
from harmonia.shared_state import SharedUnavailable
from harmonia.sources.mailchimp import subscriber_hash
from harmonia.sources.records import Contact
from harmonia.sources.writes import Erased, HubSpotWrites, MailchimpWrites, ShopifyWrites

if TYPE_CHECKING:
    from harmonia.resolvers.context import Sources

log = logging.getLogger("harmonia.erasure")
audit_log = logging.getLogger("harmonia.audit")

Invalidate = Callable[[str, str, str], Awaitable[None]]
AGGREGATES_ONLY = "holds aggregated reports only, no record of the person"


class ErasureService:
    def __init__(self, store: ErasureStore, sources: Sources, settings: ErasureSettings,
                 invalidate: Invalidate) -> None:
        self.store = store
        self.sources = sources
        self.settings = settings
        self.invalidate = invalidate
        self.owner = uuid.uuid4().hex       # this instance, as a lease holder
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    # --- the API the mutations use -------------------------------------------------------------

    async def request(self, contact: Contact, requested_by: str) -> ErasureJob:
        """Start erasing ``contact`` (or return the job already under way for them)."""
        steps = [
            ErasureStep("hubspot", target=contact.id),
            ErasureStep("shopify", target=contact.shopify_customer_id),
            ErasureStep("mailchimp", target=subscriber_hash(contact.email) if contact.email else None),
            *(ErasureStep(s, state=NOT_APPLICABLE, outcome=NOT_APPLICABLE, mechanism=AGGREGATES_ONLY,
                          confirmed_at=now_iso()) for s in ("ga4", "googleads")),
        ]
        subject = {"email": contact.email} if contact.email else {}
        try:
            job = await self.store.create(ErasureJob.new(contact.id, requested_by, steps, subject))
        except SharedUnavailable:
            raise StateUnavailable("Harmonia cannot reach the store of erasure jobs right now, so no erasure was "
                                   "started (a job must outlive this instance); retry shortly",
                                   retryAfterSeconds=5) from None
        if job.state == RUNNING:
            self._drive_soon(job.id)
        return job

    async def status(self, customer_id: str) -> ErasureJob | None:
        try:
            return await self.store.for_customer(customer_id)
        except SharedUnavailable:
            raise StateUnavailable("Harmonia cannot reach the store of erasure jobs right now; retry shortly",
                                   retryAfterSeconds=5) from None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._watcher is None:
            self._stopping = False
            self._watcher = asyncio.create_task(self._watch(), name="erasure-watcher")

    async def stop(self) -> None:
        """Every job this instance drives stops where it is (saved after each attempt; another instance
        or the next start resumes it). A cancellation that a library below swallows must not keep a job
        running past shutdown (seen: a 16 s shutdown whose job ran out of attempts meanwhile), so the
        loops also check ``_stopping`` and the cancel is repeated until each task has ended."""
        self._stopping = True
        tasks = [t for t in (self._watcher, *self._drivers.values()) if t is not None]
        for task in tasks:
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
            if not task.cancelled():
                task.exception()  # retrieved: both loops log their own failures
        self._watcher = None

    async def _watch(self) -> None:
        while not self._stopping:
            try:
                for job_id in await self.store.open_ids():
                    self._drive_soon(job_id)
            except Exception:  # Redis away for a moment: look again next round
                log.warning("could not list unfinished erasure jobs", exc_info=True)
            await asyncio.sleep(self.settings.poll_seconds)

    def _drive_soon(self, job_id: str) -> None:
        if job_id in self._drivers or self._stopping:
            return
        task = asyncio.create_task(self._drive(job_id), name=f"erasure-{job_id}")
        self._drivers[job_id] = task
        task.add_done_callback(lambda _: self._drivers.pop(job_id, None))

    # --- driving one job -------------------------------------------------------------------------

    async def _drive(self, job_id: str) -> None:
        ttl = self.settings.lease_seconds
        try:
            if not await self.store.acquire(job_id, self.owner, ttl):
                return  # another instance drives it; if it dies, its lease lapses and we look again
            try:
                await self._run(job_id, ttl)
            finally:
                await self.store.release(job_id, self.owner)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("erasure job %s stopped; it resumes at the next look", job_id)

    async def _run(self, job_id: str, ttl: float) -> None:
        while not self._stopping:
            job = await self.store.load(job_id)
            if job is None or job.state != RUNNING:
                return
            now = time.time()
            due = [s for s in job.open_steps if s.next_attempt_at <= now]
            await asyncio.gather(*(self._attempt(job, step) for step in due))
            if not job.open_steps:
                await self._finish(job)
                return
            wait = min(s.next_attempt_at for s in job.open_steps) - time.time()
            await asyncio.sleep(min(max(wait, 0.01), ttl / 3))
            if not await self.store.renew(job_id, self.owner, ttl):
                return  # we were too slow and another instance took over

    async def _attempt(self, job: ErasureJob, step: ErasureStep) -> None:
        step.attempts += 1
        try:
            erased = await self._erase(job, step)
        except HarmoniaError as exc:
            self._failed(step, f"{exc.code}: {exc.message}")
        except Exception as exc:  # a bug must not stop the other sources, nor lose the attempt count
            log.exception("erasure step %s of job %s failed unexpectedly", step.source, job.id)
            self._failed(step, f"INTERNAL: {type(exc).__name__}")
        else:
            step.state, step.outcome, step.mechanism = CONFIRMED, erased.outcome, erased.mechanism
            step.http_status, step.confirmed_at, step.last_error = erased.status, now_iso(), None
            await self._forget(job, step)
        await self.store.save(job)

    def _failed(self, step: ErasureStep, error: str) -> None:
        step.last_error = error
        if step.attempts >= self.settings.max_attempts:
            step.state = FAILED
            return
        step.state = RETRYING
        delay = min(self.settings.retry_max_seconds, self.settings.retry_base_seconds * 2 ** (step.attempts - 1))
        step.next_attempt_at = time.time() + random.uniform(delay / 2, delay)  # jitter, not cryptography

    async def _erase(self, job: ErasureJob, step: ErasureStep) -> Erased:
        s = self.sources
        if step.source == "hubspot":
            return await HubSpotWrites(s.hubspot).gdpr_delete(job.customer_id)
        if step.source == "mailchimp":
            if step.target is None:
                return Erased("ABSENT", 0, "no email address: nothing on any Mailchimp list")
            return await MailchimpWrites(s.mailchimp).delete_member_permanently(step.target)
        if step.source == "shopify":
            if step.target is None and job.subject.get("email"):
                found = await s.shopify.find_customer_by_email(job.subject["email"])
                step.target = found.id if found else None
            if step.target is None:
                return Erased("ABSENT", 200, "customers(query: \"email:…\"): no customer")
            return await ShopifyWrites(s.shopify).erase_customer(step.target)
        raise AssertionError(f"no erasure for {step.source}")

    async def _forget(self, job: ErasureJob, step: ErasureStep) -> None:
        """Evict what the step erased from the shared cache tiers (the entity key the readers use)."""
        keys = {"hubspot": ("contact", job.customer_id), "shopify": ("customer", step.target),
                "mailchimp": ("member", job.subject.get("email"))}
        entity, key = keys.get(step.source, ("", None))
        if key:
            await self.invalidate(step.source, entity, key)

    async def _finish(self, job: ErasureJob) -> None:
        job.state = FAILED if any(s.state == FAILED for s in job.steps) else COMPLETED
        job.completed_at = now_iso()
        job.subject = {}  # the email was only needed to find the person; it is not kept
        job.audit = {
            "jobId": job.id, "customerId": job.customer_id, "requestedBy": job.requested_by,
            "requestedAt": job.requested_at, "completedAt": job.completed_at, "state": job.state,
            "sources": [{"source": s.source, "state": s.state, "outcome": s.outcome, "mechanism": s.mechanism,
                         "httpStatus": s.http_status, "target": s.target, "attempts": s.attempts,
                         "confirmedAt": s.confirmed_at, "lastError": s.last_error} for s in job.steps],
        }
        await self.store.finish(job)
        audit_log.info("erasure %s", job.audit)
