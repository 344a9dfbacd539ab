"""Klaviyo simulator: Get Profiles filtered by email, in JSON:API, as Klaviyo sends it.

    app.include_router(build_router(state), prefix="/klaviyo")
    GET /klaviyo/api/profiles?filter=any(email,["ada@example.com","alan@example.org"])&page[size]=100
        Authorization: Klaviyo-API-Key pk_...    revision: 2026-10-15

Answers ``{"data": [{"type": "profile", "id", "attributes": {...}, "links": {"self"}}], "links": {"self",
"next", "prev"}}``; ``page[size]`` is 1..100 (default 20) and ``links.next`` carries ``page[cursor]``.
Every answer but a 429 tells the steady window (``RateLimit-Limit``, ``-Remaining``, ``-Reset``); past
75 calls a second or 700 a minute the answer is 429 with ``Retry-After``. Errors are JSON:API ``errors``
objects. A missing or unknown ``revision`` is refused. Facts and sources: docs/declared-sources.md.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World

SOURCE = "klaviyo"
API = "https://a.klaviyo.com"
OLDEST_REVISION = "2023-02-22"
NEWEST_REVISION = "2026-10-15"
BURST, STEADY = 75, 700         # Get Profiles: the "L" tier (a second, a minute)
MAX_PAGE = 100
FILTER = re.compile(r'^(any|equals)\(email,(.+)\)$')
CITIES = [("Portland", "United States"), ("Toronto", "Canada"), ("Leeds", "United Kingdom"),
          ("Hamburg", "Germany"), ("Lyon", "France"), ("Denver", "United States")]


@dataclass
class Windows:
    """Calls in the burst (1 s) and steady (60 s) fixed windows of the account."""

    second: tuple[int, int] = (0, 0)      # (window start, calls)
    minute: tuple[int, int] = (0, 0)
    throttled: int = 0
    by_size: list[int] = field(default_factory=list)


def build_profiles(world: World, seed: int) -> dict[str, dict[str, Any]]:
    """A Klaviyo profile for about seven in ten CRM contacts, by lower-cased email."""
    rng = random.Random(seed * 17 + 3)
    profiles: dict[str, dict[str, Any]] = {}
    for contact in world.contacts:
        props = contact["properties"]
        email = (props.get("email") or "").strip().lower()
        if not email or rng.random() >= 0.7:
            continue
        created = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 60 * 24 * 500))
        city, country = rng.choice(CITIES)
        pid = "01J" + "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(23))
        profiles[email] = {
            "type": "profile", "id": pid,
            "attributes": {
                "email": email if rng.random() < 0.8 else email.capitalize(),
                "phone_number": f"+1555{rng.randint(1000000, 9999999)}" if rng.random() < 0.5 else None,
                "external_id": None, "anonymous_id": None,
                "first_name": props.get("firstname"), "last_name": props.get("lastname"),
                "organization": rng.choice([None, "Acme Outdoors", "Trailhead Co"]), "locale": None,
                "title": None, "image": None,
                "created": created.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "updated": (created + timedelta(days=rng.randint(0, 90))).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "last_event_date": (created + timedelta(days=rng.randint(1, 200))).strftime(
                    "%Y-%m-%dT%H:%M:%S+00:00") if rng.random() < 0.8 else None,
                "location": {"address1": None, "address2": None, "city": city, "country": country,
                             "latitude": None, "longitude": None, "region": None, "zip": None,
                             "timezone": None, "ip": None},
                "properties": {},
            },
            "relationships": {"lists": {"links": {"self": f"{API}/api/profiles/{pid}/relationships/lists/",
                                                  "related": f"{API}/api/profiles/{pid}/lists/"}}},
            "links": {"self": f"{API}/api/profiles/{pid}/"},
        }
    return profiles


def jsonapi_error(status: int, code: str, title: str, detail: str, source: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None) -> JSONResponse:
    error: dict[str, Any] = {"id": str(uuid.uuid4()), "status": status, "code": code, "title": title,
                             "detail": detail, "source": source or {"pointer": "/data/"}}
    return JSONResponse({"errors": [error]}, status_code=status, media_type="application/vnd.api+json",
                        headers=headers)


def render_error(status: int, message: str) -> Response:
    if status == 429:
        return jsonapi_error(429, "throttled", "Request was throttled.",
                             "Request was throttled. Expected available in 1 second.", headers={"Retry-After": "1"})
    return jsonapi_error(status, "error", "A server error occurred.", message)


def build_router(state: SimulatorState) -> APIRouter:
    profiles = build_profiles(state.world, state.config.seed)
    ordered = sorted(profiles.values(), key=lambda p: p["id"])
    windows = Windows()
    state.throttles[SOURCE] = windows
    state.extra_stats[SOURCE] = lambda: {"throttled": windows.throttled, "page_sizes": list(windows.by_size)}
    router = APIRouter(dependencies=[Depends(state.tracked(SOURCE))])

    def limits(now: float) -> tuple[dict[str, str], bool]:
        second, minute = int(now), int(now // 60)
        burst = windows.second[1] + 1 if windows.second[0] == second else 1
        steady = windows.minute[1] + 1 if windows.minute[0] == minute else 1
        over = state.config.rate_limits and (burst > BURST or steady > STEADY)
        if not over:
            windows.second, windows.minute = (second, burst), (minute, steady)
        reset = 60 - int(now % 60)
        return {"RateLimit-Limit": str(STEADY), "RateLimit-Remaining": str(max(0, STEADY - windows.minute[1])),
                "RateLimit-Reset": str(reset)}, over

    @router.get("/api/profiles")
    @router.get("/api/profiles/")
    async def get_profiles(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Klaviyo-API-Key ") or auth[16:].strip() != state.config.credentials["klaviyo_api_key"]:
            return jsonapi_error(401, "not_authenticated", "Authentication credentials were not provided.",
                                 "Missing or invalid private key.", {"pointer": "/data/"})
        revision = request.headers.get("revision", "")
        if not revision or not (OLDEST_REVISION <= revision[:10] <= NEWEST_REVISION):
            return jsonapi_error(400, "invalid", "Invalid input.", f"Invalid revision header: {revision!r}",
                                 {"header": "revision"})
        headers, over = limits(time.time())
        if over:
            windows.throttled += 1
            return render_error(429, "throttled")
        params = request.query_params
        try:
            size = int(params.get("page[size]", "20"))
            if not 1 <= size <= MAX_PAGE:
                raise ValueError
        except ValueError:
            return jsonapi_error(400, "invalid", "Invalid input.", f"page[size] must be between 1 and {MAX_PAGE}",
                                 {"parameter": "page[size]"})
        rows = ordered
        raw_filter = params.get("filter")
        if raw_filter is not None:
            emails = _emails(raw_filter)
            if emails is None:
                return jsonapi_error(400, "invalid", "Invalid input.", "Invalid filter provided.",
                                     {"parameter": "filter"})
            rows = [profiles[e] for e in dict.fromkeys(emails) if e in profiles]
        start = 0
        if "page[cursor]" in params:
            cursor = params["page[cursor]"]
            if not cursor.startswith("bmV4dDo") or not cursor[7:].isdigit():
                return jsonapi_error(400, "invalid", "Invalid input.", "Invalid page cursor.",
                                     {"parameter": "page[cursor]"})
            start = int(cursor[7:])
        windows.by_size.append(len(rows))
        chunk = rows[start:start + size]
        query = {k: v for k, v in params.items() if k != "page[cursor]"}
        self_link = f"{API}/api/profiles/?{urlencode(params)}"
        links: dict[str, Any] = {"self": self_link, "next": None, "prev": None}
        if start + size < len(rows):
            links["next"] = f"{API}/api/profiles/?{urlencode({**query, 'page[cursor]': f'bmV4dDo{start + size}'})}"
        if start > 0:
            before = f"bmV4dDo{max(0, start - size)}"
            links["prev"] = f"{API}/api/profiles/?{urlencode({**query, 'page[cursor]': before})}"
        return JSONResponse({"data": chunk, "links": links}, media_type="application/vnd.api+json", headers=headers)

    return router


def _emails(raw: str) -> list[str] | None:
    """``equals(email,"a")`` or ``any(email,["a","b"])``: the lower-cased addresses, None if malformed."""
    match = FILTER.match(raw.strip())
    if match is None:
        return None
    operator, value = match.groups()
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    values = parsed if operator == "any" else [parsed]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or len(values) > MAX_PAGE:
        return None
    return [v.strip().lower() for v in values]
