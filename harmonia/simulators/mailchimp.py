"""Mailchimp Marketing API 3.0 simulator: campaigns, reports and list members, as Mailchimp sends them.

    app.include_router(build_router(state), prefix="/mailchimp")
    GET /mailchimp/3.0/campaigns?count=10&offset=0          (Basic anystring:<api key>)
    GET /mailchimp/3.0/lists/57afe96172/members/<md5 of the lower-cased email>

Count/offset pagination with ``total_items`` and ``_links``; ``fields``/``exclude_fields`` in dot
notation; errors as ``application/problem+json`` with ``X-Request-Id`` and a ``describedBy`` link.
Mailchimp throttles by concurrency, not by rate: at most 10 requests in flight per API key, the
eleventh gets a 429, and no rate-limit header is ever sent. Member and campaign writes live in
``mailchimp_writes``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators import mailchimp_writes
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World

SOURCE = "mailchimp"
API = "https://us6.api.mailchimp.com/3.0"
ERROR_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
DESCRIBED_BY = '<https://us6.api.mailchimp.com/schema/3.0/ProblemDetailDocument.json>; rel="describedBy"'
MAX_CONNECTIONS = 10
MAX_COUNT = 1000
CAMPAIGN_STATUSES = frozenset({"save", "paused", "schedule", "sending", "sent"})
MEMBER_STATUSES = frozenset({"subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"})
TITLES = {400: "Invalid Resource", 401: "API Key Invalid", 403: "Forbidden", 404: "Resource Not Found",
          405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
          502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
NOT_FOUND = "The requested resource could not be found."


def problem(status: int, detail: str, title: str | None = None,
            errors: list[dict[str, str]] | None = None) -> JSONResponse:
    """Mailchimp's ProblemDetailDocument, with the headers every Mailchimp error carries."""
    instance = str(uuid.uuid4())
    body: dict[str, Any] = {"type": ERROR_TYPE, "title": title or TITLES.get(status, "Error"),
                            "status": status, "detail": detail, "instance": instance}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers={"X-Request-Id": instance, "Link": DESCRIBED_BY})


def render_error(status: int, message: str) -> Response:
    return problem(status, message)


def _links(path: str, *, collection: bool) -> list[dict[str, str]]:
    links = [{"rel": "self", "href": f"{API}{path}", "method": "GET"},
             {"rel": "parent", "href": f"{API}{path.rsplit('/', 1)[0] or '/'}", "method": "GET"}]
    if collection:
        links.append({"rel": "create", "href": f"{API}{path}", "method": "POST"})
    return links


@dataclass
class _Index:
    """Lookups precomputed once per world, so a request never scans the seeded lists."""

    world: World
    campaigns: list[dict[str, Any]]
    campaign_by_id: dict[str, dict[str, Any]]
    reports: list[dict[str, Any]]
    members: list[dict[str, Any]]
    members_by_status: dict[str, list[dict[str, Any]]]
    list_ids: frozenset[str]
    # (status, sort_field, sort_dir) -> the filtered, sorted campaigns, filled on first use
    sorted_campaigns: dict[tuple[str | None, str | None, str], list[dict[str, Any]]] = field(
        default_factory=dict)


def _build_index(world: World) -> _Index:
    campaigns = [{**c, "_links": _links(f"/campaigns/{c['id']}", collection=False)} for c in world.campaigns]
    members = list(world.members.values())
    by_status: dict[str, list[dict[str, Any]]] = {}
    for member in members:
        by_status.setdefault(member["status"], []).append(member)
    list_ids = {m["list_id"] for m in members} | {c["recipients"]["list_id"] for c in world.campaigns}
    return _Index(world=world, campaigns=campaigns, campaign_by_id={c["id"]: c for c in campaigns},
                  reports=list(world.reports.values()), members=members, members_by_status=by_status,
                  list_ids=frozenset(list_ids))


@dataclass
class Connections:
    """Requests in flight per API key; ``peak`` and ``rejected`` let tests see the throttle work."""

    in_flight: dict[str, int] = field(default_factory=dict)
    peak: int = 0
    rejected: int = 0


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep else None
    return None


# ---- partial responses: fields / exclude_fields in dot notation ------------------------------------

Tree = dict[str, "Tree | None"]  # None: the whole value under this name


def _field_tree(spec: str) -> Tree:
    tree: Tree = {}
    for path in spec.split(","):
        parts = [p for p in path.strip().split(".") if p]
        node: Tree | None = tree
        for i, part in enumerate(parts):
            if node is None:
                break  # an ancestor was already asked for whole
            if i == len(parts) - 1:
                node[part] = None
            else:
                child = node.setdefault(part, {})
                node = child
    return tree


def _include(value: Any, tree: Tree | None) -> Any:
    if tree is None:
        return value
    if isinstance(value, list):
        return [_include(v, tree) for v in value]
    if isinstance(value, dict):
        return {k: _include(value[k], sub) for k, sub in tree.items() if k in value}
    return value


def _exclude(value: Any, tree: Tree) -> Any:
    if isinstance(value, list):
        return [_exclude(v, tree) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k not in tree:
                out[k] = v
            elif (sub := tree[k]) is not None:
                out[k] = _exclude(v, sub)
        return out
    return value


def _project(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    fields = request.query_params.get("fields")
    exclude = request.query_params.get("exclude_fields")
    if fields:
        body = _include(body, _field_tree(fields))
    if exclude:
        body = _exclude(body, _field_tree(exclude))
    return body


def _paging(request: Request) -> tuple[int, int] | JSONResponse:
    """``count``/``offset`` as Mailchimp validates them: integers, count at most 1000."""
    errors = []
    values = {}
    for name, default in (("count", 10), ("offset", 0)):
        raw = request.query_params.get(name)
        try:
            values[name] = default if raw is None else int(raw)
        except ValueError:
            errors.append({"field": name, "message": f"Invalid value for '{name}'."})
            continue
        if values[name] < 0:
            errors.append({"field": name, "message": f"'{name}' must be zero or more."})
    if "count" in values and values["count"] > MAX_COUNT:
        errors.append({"field": "count", "message": f"'count' must be no greater than {MAX_COUNT}."})
    if errors:
        return problem(400, "The resource submitted could not be validated. For field-specific details, "
                            "see the 'errors' array.", errors=errors)
    return values["count"], values["offset"]


def build_router(state: SimulatorState) -> APIRouter:
    cache: dict[str, _Index] = {}

    def index() -> _Index:
        current = cache.get("index")
        if current is None or current.world is not state.world:
            current = cache["index"] = _build_index(state.world)
        return current

    def connections() -> Connections:
        conns = state.throttles.get(SOURCE)
        if not isinstance(conns, Connections):
            conns = state.throttles[SOURCE] = Connections()
        return conns

    async def connection_slot(request: Request) -> AsyncIterator[None]:
        """Hold one of the key's 10 connections for the whole request, latency included."""
        if not state.config.rate_limits:
            yield
            return
        key = _presented_key(request) or ""
        conns = connections()
        if conns.in_flight.get(key, 0) >= MAX_CONNECTIONS:
            conns.rejected += 1
            request.state.mailchimp_over_limit = True
            yield
            return
        conns.in_flight[key] = conns.in_flight.get(key, 0) + 1
        conns.peak = max(conns.peak, conns.in_flight[key])
        try:
            yield
        finally:
            conns.in_flight[key] -= 1

    def refused(request: Request) -> JSONResponse | None:
        key = _presented_key(request)
        if key is None:
            return problem(401, "Your request did not include an API key.", title="API Key Missing")
        if key != state.config.credentials["mailchimp_api_key"]:
            return problem(401, "Your API key may be invalid, or you've attempted to access the wrong "
                                "datacenter.")
        if getattr(request.state, "mailchimp_over_limit", False):
            return problem(429, f"You have exceeded the limit of {MAX_CONNECTIONS} simultaneous connections.")
        return None

    # The connection slot comes first so that it spans the simulated latency: a request occupies
    # its connection for as long as it takes, which is what Mailchimp's limit counts.
    router = APIRouter(dependencies=[Depends(connection_slot), Depends(state.tracked(SOURCE))])

    @router.get("/3.0/campaigns")
    async def list_campaigns(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        paging = _paging(request)
        if isinstance(paging, JSONResponse):
            return paging
        count, offset = paging
        params = request.query_params
        status = params.get("status")
        sort_field = params.get("sort_field")
        sort_dir = (params.get("sort_dir") or "ASC").upper()
        if status is not None and status not in CAMPAIGN_STATUSES:
            return problem(400, "The resource submitted could not be validated. For field-specific "
                                "details, see the 'errors' array.",
                           errors=[{"field": "status", "message": "Invalid campaign status."}])
        if sort_field not in (None, "create_time", "send_time") or sort_dir not in ("ASC", "DESC"):
            return problem(400, "The resource submitted could not be validated. For field-specific "
                                "details, see the 'errors' array.",
                           errors=[{"field": "sort_field", "message": "Invalid sort."}])
        idx = index()
        key = (status, sort_field, sort_dir)
        rows = idx.sorted_campaigns.get(key)
        if rows is None:
            rows = [c for c in idx.campaigns if status is None or c["status"] == status]
            if sort_field is not None:
                rows.sort(key=lambda c: c[sort_field] or "", reverse=sort_dir == "DESC")
            idx.sorted_campaigns[key] = rows
        body = {"campaigns": rows[offset:offset + count], "total_items": len(rows),
                "_links": _links("/campaigns", collection=True)}
        return JSONResponse(_project(request, body))

    @router.get("/3.0/campaigns/{campaign_id}")
    async def get_campaign(campaign_id: str, request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        campaign = index().campaign_by_id.get(campaign_id)
        if campaign is None:
            return problem(404, NOT_FOUND)
        return JSONResponse(_project(request, campaign))

    @router.get("/3.0/reports")
    async def list_reports(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        paging = _paging(request)
        if isinstance(paging, JSONResponse):
            return paging
        count, offset = paging
        reports = index().reports
        body = {"reports": reports[offset:offset + count], "total_items": len(reports),
                "_links": _links("/reports", collection=False)}
        return JSONResponse(_project(request, body))

    @router.get("/3.0/reports/{campaign_id}")
    async def get_report(campaign_id: str, request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        report = state.world.reports.get(campaign_id)
        if report is None:  # never sent, or no such campaign: Mailchimp has no report either way
            return problem(404, NOT_FOUND)
        return JSONResponse(_project(request, report))

    @router.get("/3.0/lists/{list_id}/members")
    async def list_members(list_id: str, request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        idx = index()
        if list_id not in idx.list_ids:
            return problem(404, NOT_FOUND)
        paging = _paging(request)
        if isinstance(paging, JSONResponse):
            return paging
        count, offset = paging
        status = request.query_params.get("status")
        if status is not None and status not in MEMBER_STATUSES:
            return problem(400, "The resource submitted could not be validated. For field-specific "
                                "details, see the 'errors' array.",
                           errors=[{"field": "status", "message": "Invalid member status."}])
        rows = idx.members if status is None else idx.members_by_status.get(status, [])
        rows = [m for m in rows if m["list_id"] == list_id] if len(idx.list_ids) > 1 else rows
        body = {"members": rows[offset:offset + count], "list_id": list_id, "total_items": len(rows),
                "_links": _links(f"/lists/{list_id}/members", collection=True)}
        return JSONResponse(_project(request, body))

    @router.get("/3.0/lists/{list_id}/members/{subscriber_hash}")
    async def get_member(list_id: str, subscriber_hash: str, request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        member = state.world.members.get(subscriber_hash.lower())
        if member is None or member["list_id"] != list_id:
            return problem(404, NOT_FOUND)
        return JSONResponse(_project(request, member))

    mailchimp_writes.add_write_routes(router, state, refused, problem, reindex=cache.clear)
    return router
