"""All five SaaS simulators in one ASGI app, one path prefix each, plus the control endpoints.

    app = create_simulator_app(SimulatorConfig(seed=7, latency_ms=5, rate_limits=False))

``GET /__stats``, ``POST /__reset``, ``POST /__faults`` are the contract's (faults grow a ``kind``:
``status`` by default, ``reset`` or ``timeout``); ``POST /__throttle`` changes Shopify's cost bucket
while the simulators run; ``/__oauth`` controls the token endpoints (``oauth.py``: lifetimes,
revocation, failures, counts); ``GET /__requests`` (the request log, filterable by ``source``) lets tests
check that no key was asked for twice, and that no cookie came back (HubSpot's answers set
Cloudflare's ``__cf_bm``, as the real API's CDN does).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators import (
    ga4,
    google_oauth,
    googleads,
    hubspot,
    hubspot_oauth,
    mailchimp,
    oauth,
    shopify,
    shopify_oauth,
)
from harmonia.simulators.cdn import CdnCookie
from harmonia.simulators.core import (
    FAULT_KINDS,
    SOURCES,
    Fault,
    InjectedFault,
    InjectedReset,
    SimulatorConfig,
    SimulatorState,
)
from harmonia.simulators.reset import ConnectionDropper, StatusCounter
from harmonia.simulators.token_gate import TokenFrontDoor


def create_simulator_app(config: SimulatorConfig | None = None, state: SimulatorState | None = None) -> FastAPI:
    state = state or SimulatorState(config or SimulatorConfig())
    app = FastAPI(title="Harmonia SaaS simulators", docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False})
    app.state.sim = state

    # Token endpoints first: no API simulator's catch-all may shadow them.
    app.include_router(google_oauth.build_router(state), prefix="/google")
    app.include_router(hubspot_oauth.build_router(state), prefix="/hubspot")
    app.include_router(shopify_oauth.build_token_router(state), prefix="/shopify")
    for module in (hubspot, shopify, mailchimp, ga4, googleads):
        app.include_router(module.build_router(state), prefix=f"/{module.SOURCE}")
        state.error_renderers[module.SOURCE] = module.render_error
    app.include_router(oauth.build_control_router(state))

    app.add_middleware(TokenFrontDoor, state=state)
    app.add_middleware(ConnectionDropper, exception=InjectedReset)
    app.add_middleware(CdnCookie, prefix="/hubspot")
    app.add_middleware(StatusCounter, state=state)

    @app.exception_handler(InjectedFault)
    async def injected(_: Request, exc: InjectedFault) -> Response:
        return state.render_error(exc.source, exc.status, "Injected fault")

    @app.get("/__stats")
    async def stats() -> dict[str, Any]:
        return state.stats()

    @app.post("/__reset")
    async def reset() -> dict[str, Any]:
        state.reset()
        state.faults.clear()
        oauth.oauth_state(state).reset_counters()
        return {"ok": True}

    @app.get("/__requests")
    async def requests(source: str | None = None) -> list[dict[str, Any]]:
        return [r for r in state.log if source is None or r["source"] == source]

    @app.post("/__faults")
    async def faults(request: Request) -> Response:
        try:
            body = await request.json()
            source = body["source"]
            if source not in SOURCES:
                raise ValueError(f"unknown source {source!r}")
            rate = float(body.get("rate", 1.0))
            if not 0.0 <= rate <= 1.0:
                raise ValueError("rate must be within 0..1")
            kind = body.get("kind", "status")
            if kind not in FAULT_KINDS:
                raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
            fault = Fault(status=int(body.get("status", 503)), rate=rate,
                          latency_ms=float(body.get("latency_ms", 0)),
                          until=time.monotonic() + float(body.get("seconds", 30)), kind=kind)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad fault: {exc}"}, status_code=400)
        state.faults[source] = fault
        return JSONResponse({"ok": True, "source": source})

    @app.post("/__throttle")
    async def throttle(request: Request) -> Response:
        """Change a SaaS's quota while the simulators run (Shopify's cost bucket: ``maximumAvailable``,
        ``restoreRate``, ``currentlyAvailable``, ``throttleStatus`` 200 or 429)."""
        try:
            body = await request.json()
            if not isinstance(body, dict) or body.get("source") != "shopify":
                raise ValueError("only source 'shopify' has a configurable quota")
            settled = shopify.configure_throttle(state, body)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad throttle: {exc}"}, status_code=400)
        return JSONResponse({"ok": True, "source": "shopify", **settled})

    @app.delete("/__faults")
    async def clear_faults() -> dict[str, Any]:
        state.faults.clear()
        return {"ok": True}

    return app
