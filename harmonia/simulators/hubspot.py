"""HubSpot CRM contacts simulator: list, get, batch read and search, with HubSpot's limits.

    app.include_router(hubspot.build_router(state), prefix="/hubspot")
    # GET /hubspot/crm/objects/2026-09/contacts?limit=100&properties=email,phone   (or /crm/v3/objects/...)
    #     Authorization: Bearer pat-na1-demo-hubspot-token
    throttle_for(state).per_window = 3          # a test tightening the 10-second window

Responses follow shared/upstreams.md section 1: ``{results, paging.next.{after, link}}`` lists,
200/207 batch reads capped at 100 inputs, ``{total, results, paging}`` searches, the
``X-HubSpot-RateLimit-*`` headers and the ``TEN_SECONDLY_ROLLING`` 429 body (no ``Retry-After``).
Writes (PATCH, GDPR delete) live in ``hubspot_writes``.
"""

from __future__ import annotations

import fnmatch
import math
import re
import time
import uuid
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from harmonia.simulators import hubspot_writes
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World

SOURCE = "hubspot"
OBJECTS = "/crm/v3/objects/contacts"
# The date versions served (one each March and September, 18 months of support), beside the v3 paths.
DATE_VERSIONS = ("2026-03", "2026-09")
OBJECT_PATHS = (OBJECTS, *(f"/crm/objects/{v}/contacts" for v in DATE_VERSIONS))
DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
# HubSpot returns these on every object whatever was asked for.
ALWAYS = ("createdate", "hs_object_id", "lastmodifieddate")
LIST_MAX = 100
BATCH_MAX = 100
HISTORY_BATCH_MAX = 50
AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
CATEGORIES = {400: "VALIDATION_ERROR", 401: "INVALID_AUTHENTICATION", 403: "MISSING_SCOPES",
              404: "OBJECT_NOT_FOUND", 409: "CONFLICT", 429: "RATE_LIMITS"}
POLICY_MESSAGES = {"TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
                   "SECONDLY": "You have reached your secondly limit.",
                   "DAILY": "You have reached your daily limit."}


@dataclass
class HubSpotThrottle:
    """Per-token quota state (Free/Starter defaults); tests may shrink the limits."""

    per_window: int = 100
    window_seconds: float = 10.0
    daily: int = 250_000
    search_per_second: int = 5
    rejected: int = 0
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)   # token -> (oldest counted, used)
    counted: dict[str, deque[float]] = field(default_factory=dict)        # token -> the window's call stamps
    days: dict[str, tuple[date, int]] = field(default_factory=dict)       # token -> (UTC day, used)
    searches: dict[str, deque[float]] = field(default_factory=dict)       # token -> last second's stamps


def throttle_for(state: SimulatorState) -> HubSpotThrottle:
    throttle = state.throttles.get(SOURCE)
    if not isinstance(throttle, HubSpotThrottle):
        throttle = state.throttles[SOURCE] = HubSpotThrottle()
    return throttle


@dataclass(frozen=True)
class ContactIndex:
    """Lookups built once per world: sorted ids for cursors, dicts for ids and emails."""

    live: list[dict[str, Any]]
    live_ids: list[int]
    archived: list[dict[str, Any]]
    archived_ids: list[int]
    by_id: dict[str, dict[str, Any]]
    by_email: dict[str, dict[str, Any]]

    @classmethod
    def build(cls, world: World) -> ContactIndex:
        ordered = sorted(world.contacts, key=lambda c: int(c["id"]))
        live = [c for c in ordered if not c["archived"]]
        archived = [c for c in ordered if c["archived"]]
        by_email: dict[str, dict[str, Any]] = {}
        for contact in ordered:
            email = contact["properties"].get("email")
            if email:
                by_email.setdefault(email.strip().lower(), contact)
        return cls(live, [int(c["id"]) for c in live], archived, [int(c["id"]) for c in archived],
                   {c["id"]: c for c in ordered}, by_email)


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": str(uuid.uuid4())}
    body.update(extra)
    body.setdefault("category", CATEGORIES.get(status, "INTERNAL_ERROR"))
    return body


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def render_error(status: int, message: str) -> Response:
    if status == 429:
        return _json(_rate_limit_body("TEN_SECONDLY_ROLLING"), 429)
    return _json(error_body(status, message), status)


def _rate_limit_body(policy: str) -> dict[str, Any]:
    return {"status": "error", "message": POLICY_MESSAGES[policy], "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()), "policyName": policy,
            "groupName": "publicapi:private-app-api-calls-ten-secondly:6748263"}


def _iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def render_contact(contact: dict[str, Any], properties: tuple[str, ...] | None,
                   history: tuple[str, ...] = ()) -> dict[str, Any]:
    """One ``SimplePublicObject``; unset properties (None) are left out, as HubSpot does."""
    source = contact["properties"]
    wanted = DEFAULT_PROPERTIES if properties is None else ALWAYS + properties
    obj: dict[str, Any] = {
        "id": contact["id"],
        "properties": {name: source[name] for name in wanted if source.get(name) is not None},
        "createdAt": contact["createdAt"], "updatedAt": contact["updatedAt"],
        "archived": contact["archived"],
    }
    if contact["archived"]:
        obj["archivedAt"] = contact["updatedAt"]
    if history:
        obj["propertiesWithHistory"] = {
            name: [{"value": source[name], "timestamp": contact["updatedAt"], "sourceType": "CRM_UI"}]
            for name in history if source.get(name) is not None
        }
    return obj


def _csv(request: Request, name: str) -> tuple[str, ...] | None:
    values = [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()]
    return tuple(dict.fromkeys(values)) if values else None


def _names(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value:
        return None
    return tuple(dict.fromkeys(str(v) for v in value))


def _truthy(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").strip().lower() == "true"


# --- search: filterGroups are ORed, filters inside a group ANDed (HubSpot CRM search) ---

SEARCH_LIMIT_MAX = 200
RESULT_WINDOW = 10_000
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
QUERY_MAX_CHARS = 3000
VALUE_OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
OPERATORS = VALUE_OPERATORS | {"BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}
TEXT_PROPERTIES = ("firstname", "lastname", "email", "phone")
_TOKEN_SPLIT = re.compile(r"[\s@.,;:_\-/+()]+")


class InvalidSearch(ValueError):
    """A search body HubSpot would answer with 400 VALIDATION_ERROR."""


def _number(text: Any) -> float | None:
    """Numbers and dates compare numerically: dates as epoch millis, ISO or not."""
    if isinstance(text, int | float):
        return float(text)
    raw = str(text).strip()
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000.0


def _compare(stored: str, value: Any) -> int:
    left, right = _number(stored), _number(value)
    if left is None or right is None:
        a, b = stored.strip().casefold(), str(value).strip().casefold()
        return (a > b) - (a < b)
    return (left > right) - (left < right)


def _has_token(stored: str, value: Any) -> bool:
    needle, text = str(value).strip().casefold(), stored.strip().casefold()
    if "*" in needle:
        return fnmatch.fnmatchcase(text, needle) or any(
            fnmatch.fnmatchcase(token, needle) for token in _TOKEN_SPLIT.split(text))
    return needle == text or needle in _TOKEN_SPLIT.split(text)


def _matches(props: dict[str, Any], flt: dict[str, Any]) -> bool:
    op, stored = flt["operator"], props.get(flt["propertyName"])
    missing = stored is None or stored == ""
    if op == "HAS_PROPERTY":
        return not missing
    if op == "NOT_HAS_PROPERTY":
        return missing
    if op.startswith("N"):  # NEQ, NOT_IN, NOT_CONTAINS_TOKEN: a record without the property passes
        if missing:
            return True
        positive = {"NEQ": "EQ", "NOT_IN": "IN", "NOT_CONTAINS_TOKEN": "CONTAINS_TOKEN"}[op]
        return not _matches(props, {**flt, "operator": positive})
    if stored is None or missing:
        return False
    stored = str(stored)
    if op == "EQ":
        return _compare(stored, flt["value"]) == 0
    if op == "IN":
        return any(_compare(stored, v) == 0 for v in flt["values"])
    if op == "CONTAINS_TOKEN":
        return _has_token(stored, flt["value"])
    if op == "BETWEEN":
        return _compare(stored, flt["value"]) >= 0 and _compare(stored, flt["highValue"]) <= 0
    sign = _compare(stored, flt["value"])
    return {"LT": sign < 0, "LTE": sign <= 0, "GT": sign > 0, "GTE": sign >= 0}[op]


def _check_filter(flt: Any) -> dict[str, Any]:
    if not isinstance(flt, dict) or not isinstance(flt.get("propertyName"), str):
        raise InvalidSearch("Each filter needs a propertyName and an operator")
    op = flt.get("operator")
    if op not in OPERATORS:
        raise InvalidSearch(f"Invalid operator {op!r}; one of {', '.join(sorted(OPERATORS))}")
    needs = {"IN": ("values",), "NOT_IN": ("values",), "BETWEEN": ("value", "highValue")}.get(
        op, ("value",) if op in VALUE_OPERATORS else ())
    for key in needs:
        if flt.get(key) is None or (key == "values" and not isinstance(flt[key], list)):
            raise InvalidSearch(f"Operator {op} needs {key}")
    return flt


@dataclass(frozen=True)
class SearchQuery:
    groups: list[list[dict[str, Any]]]
    text: str | None
    sorts: list[tuple[str, bool]]      # (property, descending)
    properties: tuple[str, ...] | None
    limit: int
    after: int

    @classmethod
    def parse(cls, payload: Any) -> SearchQuery:
        if not isinstance(payload, dict):
            raise InvalidSearch("The search body must be a JSON object")
        raw_groups = payload.get("filterGroups") or []
        if not isinstance(raw_groups, list) or len(raw_groups) > MAX_GROUPS:
            raise InvalidSearch(f"Too many filter groups: at most {MAX_GROUPS}")
        groups = []
        for group in raw_groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
                raise InvalidSearch(f"A filter group takes a list of at most {MAX_FILTERS_PER_GROUP} filters")
            groups.append([_check_filter(f) for f in filters])
        if sum(len(g) for g in groups) > MAX_FILTERS:
            raise InvalidSearch(f"Too many filters: at most {MAX_FILTERS} in all groups together")
        text = payload.get("query")
        if text is not None and (not isinstance(text, str) or len(text) > QUERY_MAX_CHARS):
            raise InvalidSearch(f"query must be a string of at most {QUERY_MAX_CHARS} characters")
        try:
            limit, after = int(payload.get("limit", 10)), int(payload.get("after") or 0)
        except (TypeError, ValueError) as exc:
            raise InvalidSearch("limit and after must be integers") from exc
        if not 1 <= limit <= SEARCH_LIMIT_MAX:
            raise InvalidSearch(f"limit must be between 1 and {SEARCH_LIMIT_MAX}")
        if not 0 <= after < RESULT_WINDOW:
            raise InvalidSearch(f"after must be below {RESULT_WINDOW}: search stops at that many results")
        sorts = []
        for sort in payload.get("sorts") or []:
            if isinstance(sort, str):
                sorts.append((sort.lstrip("-"), sort.startswith("-")))
            elif isinstance(sort, dict) and isinstance(sort.get("propertyName"), str):
                sorts.append((sort["propertyName"], sort.get("direction") == "DESCENDING"))
            else:
                raise InvalidSearch("sorts take {propertyName, direction} objects")
        return cls(groups, text.strip().casefold() if text else None, sorts,
                   _names(payload.get("properties")), limit, after)

    def run(self, live: list[dict[str, Any]], by_email: dict[str, dict[str, Any]],
            by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for group in self.groups or [[]]:
            for contact in self._candidates(group, live, by_email, by_id):
                if all(_matches(contact["properties"], f) for f in group):
                    found.setdefault(contact["id"], contact)
        matches = list(found.values())
        if len(self.groups) > 1:
            matches.sort(key=lambda c: int(c["id"]))
        if self.text:
            matches = [c for c in matches if any(self.text in str(c["properties"].get(p) or "").casefold()
                                                 for p in TEXT_PROPERTIES)]
        for name, descending in reversed(self.sorts):
            keyed = [(self._sort_key(c["properties"].get(name)), c) for c in matches]
            present = [(key, c) for key, c in keyed if key is not None]
            present.sort(key=lambda pair: pair[0], reverse=descending)
            matches = [c for _, c in present] + [c for key, c in keyed if key is None]
        return matches

    @staticmethod
    def _sort_key(value: Any) -> tuple[float, str] | None:
        if value is None or value == "":
            return None  # records without the property sort last either way
        value = str(value)
        number = _number(value)
        return (number if number is not None else math.inf, value.strip().casefold())

    @staticmethod
    def _candidates(group: list[dict[str, Any]], live: list[dict[str, Any]],
                    by_email: dict[str, dict[str, Any]], by_id: dict[str, dict[str, Any]]
                    ) -> list[dict[str, Any]]:
        # An EQ on a unique property narrows to one record without scanning the whole list.
        for flt in group:
            if flt["operator"] == "EQ" and flt["propertyName"] in ("email", "hs_object_id"):
                key = str(flt["value"]).strip()
                hit = by_email.get(key.lower()) if flt["propertyName"] == "email" else by_id.get(key)
                return [hit] if hit is not None and not hit["archived"] else []
        return live


Headers = dict[str, str]


class Gate:
    """Auth plus the quota: answers the refusal, or the rate-limit headers for the answer."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def __call__(self, request: Request, *, is_search: bool = False) -> tuple[Response | None, Headers]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.state.config.credentials["hubspot_token"]:
            return _json(error_body(401, AUTH_MESSAGE), 401), {}
        if not self.state.config.rate_limits:
            return None, {}
        return self._admit(token.strip(), is_search)

    def _admit(self, token: str, is_search: bool) -> tuple[Response | None, Headers]:
        throttle = throttle_for(self.state)
        now = time.monotonic()
        # TEN_SECONDLY_ROLLING: the calls of the last window_seconds, whenever the window is looked at.
        counted = throttle.counted.setdefault(token, deque())
        while counted and now - counted[0] >= throttle.window_seconds:
            counted.popleft()
        used = len(counted)
        today = datetime.now(UTC).date()
        day, day_used = throttle.days.get(token, (today, 0))
        if day != today:
            day, day_used = today, 0
        policy = None
        if used >= throttle.per_window:
            policy = "TEN_SECONDLY_ROLLING"
        elif day_used >= throttle.daily:
            policy = "DAILY"
        elif is_search:
            stamps = throttle.searches.setdefault(token, deque())
            while stamps and now - stamps[0] >= 1.0:
                stamps.popleft()
            if len(stamps) >= throttle.search_per_second:
                policy = "SECONDLY"
            else:
                stamps.append(now)
        if policy is None:
            used, day_used = used + 1, day_used + 1
            counted.append(now)
        throttle.windows[token] = (counted[0] if counted else now, used)
        throttle.days[token] = (day, day_used)
        headers = {
            "X-HubSpot-RateLimit-Max": str(throttle.per_window),
            "X-HubSpot-RateLimit-Remaining": str(max(0, throttle.per_window - used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(throttle.window_seconds * 1000)),
            "X-HubSpot-RateLimit-Daily": str(throttle.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, throttle.daily - day_used)),
        }
        if policy is None:
            return None, headers
        throttle.rejected += 1
        return _json(_rate_limit_body(policy), 429, headers), headers


def build_router(state: SimulatorState) -> APIRouter:
    router = APIRouter(dependencies=[Depends(state.tracked(SOURCE))])
    gate = Gate(state)
    cached: list[tuple[tuple[int, int, int], ContactIndex]] = []

    def index() -> ContactIndex:
        # Rebuilt only if a test swaps or grows the contact list after the app was built.
        key = (id(state.world), id(state.world.contacts), len(state.world.contacts))
        if not cached or cached[0][0] != key:
            cached[:] = [(key, ContactIndex.build(state.world))]
        return cached[0][1]

    def lookup(key: str, id_property: str | None, archived: bool) -> dict[str, Any] | None:
        idx = index()
        by_email = id_property == "email"
        contact = idx.by_email.get(key.strip().lower()) if by_email else idx.by_id.get(key.strip())
        return contact if contact is not None and contact["archived"] == archived else None

    def bad_id_property(id_property: str | None, headers: dict[str, str]) -> Response | None:
        if id_property in (None, "email", "hs_object_id"):
            return None
        message = f"Property {id_property} is not a unique identifier property for CONTACT"
        return _json(error_body(400, message), 400, headers)

    for objects in OBJECT_PATHS:
        @router.get(objects)
        async def list_contacts(request: Request) -> Response:
            refusal, headers = gate(request)
            if refusal is not None:
                return refusal
            try:
                limit = int(request.query_params.get("limit", "10"))
                after = int(request.query_params.get("after", "0") or "0")
            except ValueError:
                return _json(error_body(400, "limit and after must be integers"), 400, headers)
            if not 1 <= limit <= LIST_MAX:
                return _json(error_body(400, f"limit must be between 1 and {LIST_MAX}"), 400, headers)
            idx = index()
            archived = _truthy(request, "archived")
            pool, ids = (idx.archived, idx.archived_ids) if archived else (idx.live, idx.live_ids)
            # ``after`` is the smallest id of the next page, so a cursor survives inserts and deletes.
            start = bisect_left(ids, after)
            chunk = pool[start:start + limit]
            properties, history = _csv(request, "properties"), _csv(request, "propertiesWithHistory") or ()
            body: dict[str, Any] = {"results": [render_contact(c, properties, history) for c in chunk]}
            if start + limit < len(pool):
                cursor = str(int(chunk[-1]["id"]) + 1)
                link = request.url.include_query_params(after=cursor, limit=limit)
                body["paging"] = {"next": {"after": cursor, "link": str(link)}}
            return _json(body, 200, headers)

        @router.post(objects + "/batch/read")
        async def batch_read(request: Request) -> Response:
            refusal, headers = gate(request)
            if refusal is not None:
                return refusal
            try:
                payload = orjson.loads(await request.body())
                inputs = [str(item["id"]) for item in payload["inputs"]]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                return _json(error_body(400, "Invalid input JSON: expected {inputs: [{id}]}"), 400, headers)
            history = _names(payload.get("propertiesWithHistory")) or ()
            if len(inputs) > BATCH_MAX:
                message = f"The maximum number of inputs supported in a batch request is {BATCH_MAX}"
                return _json(error_body(400, message), 400, headers)
            if history and len(inputs) > HISTORY_BATCH_MAX:
                message = ("The maximum number of inputs supported in a batch request for property histories "
                           f"is {HISTORY_BATCH_MAX}")
                return _json(error_body(400, message), 400, headers)
            id_property = payload.get("idProperty")
            if (bad := bad_id_property(id_property, headers)) is not None:
                return bad
            started = _iso_now()
            properties, archived = _names(payload.get("properties")), _truthy(request, "archived")
            results, missing, seen = [], [], set()
            for key in dict.fromkeys(inputs):
                contact = lookup(key, id_property, archived)
                if contact is None:
                    missing.append(key)
                elif contact["id"] not in seen:
                    seen.add(contact["id"])
                    results.append(render_contact(contact, properties, history))
            body: dict[str, Any] = {"status": "COMPLETE", "results": results}
            if missing:
                body["numErrors"] = 1
                body["errors"] = [{
                    "status": "error", "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
                               "Check that ids are valid.",
                    "context": {"ids": missing}, "errors": [], "links": {},
                }]
            body["startedAt"], body["completedAt"] = started, _iso_now()
            return _json(body, 207 if missing else 200, headers)

        @router.post(objects + "/search")
        async def search_contacts(request: Request) -> Response:
            refusal, headers = gate(request, is_search=True)
            if refusal is not None:
                return refusal
            try:
                payload = orjson.loads(await request.body() or b"{}")
                query = SearchQuery.parse(payload)
            except orjson.JSONDecodeError:
                return _json(error_body(400, "Invalid input JSON on line 1"), 400, headers)
            except InvalidSearch as exc:
                return _json(error_body(400, str(exc)), 400, headers)
            idx = index()
            matches = query.run(idx.live, idx.by_email, idx.by_id)
            page = matches[query.after:query.after + query.limit]
            body: dict[str, Any] = {"total": len(matches),
                                    "results": [render_contact(c, query.properties) for c in page]}
            end = query.after + query.limit
            if end < len(matches) and end < RESULT_WINDOW:
                body["paging"] = {"next": {"after": str(end)}}
            return _json(body, 200, headers)

        @router.get(objects + "/{contact_id}")
        async def get_contact(request: Request, contact_id: str) -> Response:
            refusal, headers = gate(request)
            if refusal is not None:
                return refusal
            id_property = request.query_params.get("idProperty")
            if (bad := bad_id_property(id_property, headers)) is not None:
                return bad
            contact = lookup(contact_id, id_property, _truthy(request, "archived"))
            if contact is None:
                body = error_body(404, "Object not found.  objectId are usually numeric.",
                                  context={"id": [contact_id]})
                return _json(body, 404, headers)
            properties, history = _csv(request, "properties"), _csv(request, "propertiesWithHistory") or ()
            return _json(render_contact(contact, properties, history), 200, headers)

        hubspot_writes.add_write_routes(router, state, gate, objects, _json, error_body, render_contact,
                                        reindex=cached.clear)

    @router.api_route("/crm/objects/{version}/{rest:path}", methods=["GET", "POST", "PATCH", "DELETE"])
    async def unknown_version(version: str, rest: str) -> Response:
        # HubSpot answers a date version it does not serve (or no longer serves) with a plain 404.
        return _json(error_body(404, f"Unknown API version {version} for /crm/objects/{version}/{rest}"), 404)

    return router
