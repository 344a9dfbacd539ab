"""Declared sources at run time: list them, dry-run a new set, apply it on every instance without a restart.

    lifecycle = DeclaredLifecycle(app_parts, found)
    report = await lifecycle.dry_run({"klaviyo.yaml": text})     # schema diff + recent operations it breaks
    report = await lifecycle.apply({"klaviyo.yaml": text}, actor="ada")   # here, then every instance

A set is checked whole before anything changes (declarations, their settings, the schema they make,
the policy file against that schema); a refused set changes nothing, and the schema serving now goes
on serving. An applied set is kept in Redis (``harmonia:declared:set``) and announced on a pub/sub
channel; every instance, and any instance that starts later, builds the same set from there. Without
Redis the set applies to this process only, until it restarts.

The dry run diffs the schemas with graphql-core's ``find_breaking_changes``/``find_dangerous_changes``
and validates the operations this instance recorded (``schema.dry_run.RecentOperations``: the last
500, never their variables) against the proposed schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLSchema, find_breaking_changes, find_dangerous_changes, parse, validate
from graphql.error import GraphQLSyntaxError

from harmonia.auth.policy_file import PolicyError, load_policy
from harmonia.checks.changes import schema_changes
from harmonia.checks.proposal import parse_window
from harmonia.checks.render import render_json, render_text
from harmonia.checks.report import Threshold, check
from harmonia.http.pipeline import GraphQLPipeline
from harmonia.limits.plan import select_operation
from harmonia.observability.usage import FieldUsage
from harmonia.resolvers.context import Sources, Transports
from harmonia.schema import build_schema, built_in_type_names
from harmonia.schema.catalog import catalog_of
from harmonia.schema.declared import with_declared_weights
from harmonia.schema.dry_run import RecentOperations
from harmonia.settings import Settings
from harmonia.shared_state import ADMIN, FAILURES, Channel, RedisTarget, open_client
from harmonia.sources.declared.loader import DeclarationError, DeclaredSet, parse_declarations
from harmonia.sources.declared.registry import DeclaredSources
from harmonia.sources.declared.templates import MissingSetting, require, setting_values

log = logging.getLogger("harmonia.declared")
SET_KEY = "harmonia:declared:set"
CHANNEL = "harmonia:declared:applied"
RECONCILE_SECONDS = 5.0  # the stored set is looked at this often even when no announcement came
RECENT = 500


class Refused(ValueError):
    """A set that cannot be applied: what is wrong, with its file, line and key when a declaration says."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, key: str | None = None):
        super().__init__(message)
        self.message = message
        self.where: dict[str, Any] = {"file": file, "line": line, "key": key}


@dataclass
class Report:
    digest: str
    sources: list[dict[str, Any]]
    breaking: list[dict[str, str]] = field(default_factory=list)
    dangerous: list[dict[str, str]] = field(default_factory=list)
    broken_operations: list[dict[str, Any]] = field(default_factory=list)
    operations_checked: int = 0
    applied: bool = False
    check: dict[str, Any] | None = None   # the schema check report (dry runs): changes joined with usage

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "sources": self.sources, "breaking": self.breaking,
                "dangerous": self.dangerous, "brokenOperations": self.broken_operations,
                "operationsChecked": self.operations_checked, "applied": self.applied, "check": self.check}


def describe(found: DeclaredSet) -> list[dict[str, Any]]:
    return [{"name": d.name, "title": d.title, "file": f.file, "baseUrl": d.base_url, "version": d.version,
             "supportedUntil": d.supported_until, "types": sorted(d.types),
             "customerFields": [e.field for e in d.extends.customer],
             "campaignChannels": [e.channel for e in d.extends.campaigns]}
            for f in found.files for d in [f.declaration]]


class DeclaredLifecycle:
    def __init__(self, settings: Settings, sources: Sources, pipeline: GraphQLPipeline, recent: RecentOperations,
                 found: DeclaredSet, transports: Transports | None = None, usage: FieldUsage | None = None) -> None:
        self.settings = settings          # as configured (the weights of each set are added to a copy)
        self.sources = sources
        self.pipeline = pipeline
        self.recent = recent
        self.current = found
        self.transports = transports
        self.usage = usage
        self._lock = asyncio.Lock()
        target = RedisTarget.from_settings(settings)
        self._redis = open_client(target, ADMIN) if target is not None else None
        self._channel = Channel(target, CHANNEL) if target is not None else None  # sharded on a Cluster
        self._listener: asyncio.Task[None] | None = None
        self._retired: list[DeclaredSources] = []

    # --- what admins call -----------------------------------------------------------------------

    def listing(self) -> dict[str, Any]:
        return {"digest": self.current.digest, "sources": describe(self.current)}

    async def dry_run(self, texts: Mapping[str, str]) -> Report:
        found, schema, _ = self._prepare(texts)
        report = self._report(found, schema)
        report.check = await self._usage_check(schema)
        return report

    async def _usage_check(self, schema: GraphQLSchema) -> dict[str, Any] | None:
        """The report `harmonia schema check FOLDER` prints: the schema's changes joined with the field usage
        every instance recorded over ``schema_checks.window`` (None when usage is not recorded here)."""
        if self.usage is None:
            return None
        checks = self.settings.schema_checks
        try:
            hours, threshold = parse_window(checks.window), Threshold.parse(checks.threshold)
        except ValueError:
            hours, threshold = 168, Threshold()
        try:
            entries = await self.usage.entries(hours)
        except FAILURES:
            log.warning("declared sources: dry run without recorded usage (Redis unreachable)")
            return None
        report = check(schema_changes(self.pipeline.schema, schema), entries, window_hours=hours,
                       threshold=threshold, subject="proposed declared sources against the running schema",
                       usage_known=self.settings.redis_url is not None, ignored_clients=checks.ignored_clients)
        return {"report": render_json(report), "text": render_text(report)}

    async def apply(self, texts: Mapping[str, str], actor: str) -> Report:
        async with self._lock:
            found, schema, settings = self._prepare(texts)
            report = self._report(found, schema)
            await self._swap(found, schema, settings)
            report.applied = True
        await self._share(texts)
        log.info("declared sources %s applied by %s: %s", found.digest, actor, ", ".join(
            d.name for d in found.declarations) or "none")
        return report

    # --- every instance -------------------------------------------------------------------------

    async def start(self) -> None:
        """Apply the set other instances applied (if any), then follow their announcements."""
        if self._redis is None:
            return
        with contextlib.suppress(*FAILURES):
            await self._follow_stored()
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()
        for old in self._retired:
            await old.aclose()
        self._retired.clear()

    async def _listen(self) -> None:
        """Follow other instances' announcements; look at the stored set every few seconds too, so an
        announcement sent while the subscription was being renewed (Redis away, a failover) is not missed."""
        assert self._channel is not None
        wake = asyncio.Event()
        listener = asyncio.create_task(self._channel.listen(lambda _message: wake.set()))
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), RECONCILE_SECONDS)
                wake.clear()
                try:
                    await self._follow_stored()
                except FAILURES as exc:  # Redis away: keep serving what we have, look again later
                    log.warning("declared sources: not following other instances for now (%s)", type(exc).__name__)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _follow_stored(self) -> None:
        assert self._redis is not None
        raw = await self._redis.get(SET_KEY)
        if raw is None:
            return
        texts: dict[str, str] = json.loads(raw)
        async with self._lock:
            try:
                found, schema, settings = self._prepare(texts)
            except Refused as exc:  # applied elsewhere with settings this instance lacks: keep ours, say so
                log.error("declared sources: another instance's set is refused here: %s", exc)
                return
            if found.digest != self.current.digest:
                await self._swap(found, schema, settings)
                log.info("declared sources %s applied from another instance", found.digest)

    async def _share(self, texts: Mapping[str, str]) -> None:
        if self._redis is None:
            return
        try:
            await self._redis.set(SET_KEY, json.dumps(dict(texts)))
            assert self._channel is not None
            await self._channel.publish(self._redis, self.current.digest)
        except FAILURES:
            log.error("declared sources: applied here, but Redis is unreachable: other instances keep theirs")

    # --- the steps --------------------------------------------------------------------------------

    def _prepare(self, texts: Mapping[str, str]) -> tuple[DeclaredSet, GraphQLSchema, Settings]:
        try:
            found = parse_declarations(texts, built_in_type_names())
        except DeclarationError as exc:
            raise Refused(str(exc), exc.file, exc.line, exc.key) from None
        extras: dict[str, Any] = self.settings.sources.model_extra or {}
        for d in found.declarations:
            configured = extras.get(d.name)
            try:
                require(d, setting_values(d, configured if isinstance(configured, dict) else {}))
            except MissingSetting as exc:
                raise Refused(str(exc)) from None
        schema = build_schema(found)._schema
        try:
            load_policy(self.settings.auth.policy_file, catalog_of(schema))
        except PolicyError as exc:
            raise Refused(f"the policy file no longer fits the schema: {exc}") from None
        return found, schema, with_declared_weights(self.settings, found)

    async def _swap(self, found: DeclaredSet, schema: GraphQLSchema, settings: Settings) -> None:
        try:
            declared = self.sources.build_declared(found, settings, self.transports)
        except (MissingSetting, ValueError) as exc:
            raise Refused(str(exc)) from None
        old = self.sources.declared
        self.sources.declared = declared
        self.pipeline.use_schema(schema, settings)
        self.current = found
        # Requests already running may still use the old connectors: closed when this lifecycle stops.
        self._retired.append(old)

    def _report(self, found: DeclaredSet, schema: GraphQLSchema) -> Report:
        report = Report(found.digest, describe(found))
        current = self.pipeline.schema
        report.breaking = [{"type": c.type.name, "description": c.description}
                           for c in find_breaking_changes(current, schema)]
        report.dangerous = [{"type": c.type.name, "description": c.description}
                            for c in find_dangerous_changes(current, schema)]
        seen: set[tuple[str, str | None]] = set()
        for op in self.recent.last(RECENT):
            if (op.query, op.operation_name) in seen:
                continue
            seen.add((op.query, op.operation_name))
            report.operations_checked += 1
            try:
                document = parse(op.query)
            except GraphQLSyntaxError:
                continue
            errors = validate(schema, document)
            if errors:
                named = select_operation(document, op.operation_name)
                name = op.operation_name or (named.name.value if named is not None and named.name else None)
                report.broken_operations.append({"operationName": name, "client": op.sub,
                                                 "errors": [e.message for e in errors[:5]]})
        return report
