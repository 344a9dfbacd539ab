"""The ga4 simulator (placeholder until its module lands)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState

SOURCE = "ga4"


def build_router(state: SimulatorState) -> APIRouter:
    return APIRouter(dependencies=[Depends(state.tracked(SOURCE))])


def render_error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
