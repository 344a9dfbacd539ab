"""The gateway application: ``create_app(settings)`` builds everything, no import-time singletons.

    app = create_app(load_settings())                     # uvicorn serves it
    app = create_app(settings, transports={"hubspot": httpx.ASGITransport(app=simulators)})  # tests
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig

from harmonia.auth.admin import AdminPlane
from harmonia.auth.overlays import overlays_for
from harmonia.auth.policy_file import load_policy
from harmonia.auth.store import PolicyStore
from harmonia.auth.tokens import TokenVerifier
from harmonia.cache.persisted import PersistedQueries
from harmonia.cache.responses import ResponseCache
from harmonia.http.admin_page import admin_page
from harmonia.http.declared_routes import declared_sources_router
from harmonia.http.declared_sources import DeclaredLifecycle
from harmonia.http.graphiql import STATIC_DIR, STATIC_PREFIX
from harmonia.http.pipeline import GraphQLPipeline
from harmonia.http.readiness import Probe, Readiness, reachable, redis_ping
from harmonia.http.routes import build_graphql_router
from harmonia.http.sources_page import sources_page
from harmonia.memory_trim import MemoryTrimmer
from harmonia.observability.telemetry import Telemetry
from harmonia.resolvers.cached import build_entity_cache, build_redis_tier, shared_invalidation
from harmonia.resolvers.context import Sources, Transports
from harmonia.resolvers.source_watch import SourceWatch
from harmonia.resolvers.write_services import WriteServices
from harmonia.schema import ADMINS_ONLY_TYPES, build_schema, built_in_type_names
from harmonia.schema.catalog import catalog_of
from harmonia.schema.declared import with_declared_weights
from harmonia.schema.dry_run import RecentOperations, replay_under
from harmonia.settings import Settings
from harmonia.shared_state import RedisTarget
from harmonia.sources.declared.loader import load_folder
from harmonia.sources.versions import support_warnings

NO_FRAMEWORK_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def create_app(settings: Settings, transports: Transports | None = None) -> FastAPI:
    for line in support_warnings(settings.sources, today=date.today()):
        logging.getLogger("harmonia.sources.versions").warning(line)  # `harmonia doctor` says the same
    # A declaration with a mistake stops the start here, naming its file, line and key.
    found = load_folder(settings.sources_dir, built_in_type_names())
    configured, settings = settings, with_declared_weights(settings, found)
    sources = Sources.from_settings(settings, transports, declared=found)
    writes = WriteServices.build(settings, sources)
    schema = build_schema(found)
    catalog = catalog_of(schema._schema)
    policies = PolicyStore(load_policy(settings.auth.policy_file, catalog),
                           overlays_for(RedisTarget.from_settings(settings)))
    recent = RecentOperations()
    admin = AdminPlane(policies, {t: f for t, f in catalog.items() if t not in ADMINS_ONLY_TYPES},
                       replay_under(schema._schema, recent))
    shared = build_redis_tier(settings)
    cache = build_entity_cache(settings, shared)
    writes.shared_invalidation = shared_invalidation(cache)  # writes evict both tiers, every instance
    persisted = PersistedQueries(settings.persisted_queries, shared=shared)
    responses = ResponseCache(cache, max_entries=settings.cache.max_responses, enabled=settings.cache.responses)
    pipeline = GraphQLPipeline(schema._schema, settings, sources, cache=cache, persisted=persisted, writes=writes,
                               responses=responses, policies=policies, admin=admin, recent=recent)
    verifier = TokenVerifier(settings.auth)
    telemetry = Telemetry(settings)
    # Its dry runs join the schema's changes with the field usage every instance recorded (schema checks).
    declared = DeclaredLifecycle(configured, sources, pipeline, recent, found, transports, usage=telemetry.usage)
    readiness = _readiness(settings, sources)
    watch = SourceWatch(sources, settings)
    telemetry.sources_watch = watch  # the catalogue's resolvers find it beside field usage
    trimmer = MemoryTrimmer(settings.http.malloc_trim_seconds)
    if shared is not None:
        telemetry.watch_circuit("redis", lambda: shared.circuit.is_open)

    async def close_all() -> None:
        """Everything the app opened: also for tests that drive the app without its lifespan. Each part
        is closed whatever became of the one before, so no Redis client or pool is left to the GC."""
        failures: list[Exception] = []
        closers = [trimmer.stop, declared.stop, readiness.aclose, watch.aclose, telemetry.aclose, writes.aclose,
                   policies.stop, cache.aclose,
                   *([shared.aclose] if shared is not None else []), sources.aclose, verifier.aclose,
                   pipeline.meter.aclose]
        for close in closers:
            try:
                await close()
            except Exception as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await policies.start()  # the admins' overlays, and other instances' changes from now on
        await cache.start()  # hear other instances' evictions from the start
        writes.start()  # resumes the erasure jobs a previous process left unfinished
        await telemetry.start()
        await declared.start()  # the declared sources other instances applied, and their changes from now on
        await watch.start()
        trimmer.start()  # bursts' freed memory back to the system (harmonia/memory_trim.py)
        yield
        await close_all()

    # FastAPI's own OpenTelemetry (on by default since 0.16x once a provider is global) is off: Harmonia
    # instruments itself (harmonia/observability), and FastAPI's would add a second SERVER span and HTTP
    # metrics per request, and log exception messages (which may quote a caller's input) to OTel logs.
    app = FastAPI(title="Harmonia", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan,
                  telemetry=NO_FRAMEWORK_TELEMETRY)
    if settings.http.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.http.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Accept", "graphql-client-name",
                                          "graphql-client-version"], max_age=600)
    # httpx logs every upstream URL at INFO, and those URLs carry customers' emails: keep it to warnings.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app.state.settings = settings
    app.state.aclose = close_all
    app.state.sources = sources
    app.state.cache = cache
    app.state.redis = shared
    app.state.writes = writes
    app.state.pipeline = pipeline
    app.state.responses = responses
    app.state.schema = schema
    app.state.verifier = verifier
    app.state.policies = policies
    app.state.declared = declared
    app.state.telemetry = telemetry
    app.state.watch = watch
    app.include_router(build_graphql_router(pipeline, verifier, telemetry))
    if STATIC_DIR.is_dir():
        app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="graphiql-static")

    @app.get("/admin", response_class=HTMLResponse)
    async def admin_html() -> HTMLResponse:
        # The page holds no data: everything it shows comes through /graphql with an admin token.
        return HTMLResponse(admin_page())

    app.include_router(declared_sources_router(declared, verifier, policies))

    @app.get("/admin/sources", response_class=HTMLResponse)
    async def sources_html() -> HTMLResponse:
        # As /admin: the page holds no data; the admins-only `sources` query fills it.
        return HTMLResponse(sources_page())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks, age = await readiness.checks()
        if settings.redis_url is None:
            checks["redis"] = "not configured"
        ready = all(v in ("ok", "not configured") for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks,
                             "checked_seconds_ago": round(age, 1), "cache": cache.status()},
                            status_code=200 if ready else 503)

    @app.get("/metrics")
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(telemetry.render_metrics(), media_type="text/plain; version=0.0.4")

    return app


def _readiness(settings: Settings, sources: Sources) -> Readiness:
    target = RedisTarget.from_settings(settings)
    redis = redis_ping(target) if target is not None else None

    def probes() -> dict[str, Probe]:
        # Each round: the sources in force, declared sets applied since the start included.
        found = {name: reachable(connector.http.client) for name, connector in sources.items()}
        if redis is not None:
            found["redis"] = redis
        return found

    return Readiness(probes, interval=settings.http.readiness_probe_seconds)
