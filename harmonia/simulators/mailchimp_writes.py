"""Mailchimp Marketing 3.0 writes: list members (PUT upsert, PATCH, permanent delete) and campaign actions.

    PUT  /mailchimp/3.0/lists/57afe96172/members/<md5>   {"email_address": "ada@example.com",
                                                           "status_if_new": "unsubscribed", "status": "unsubscribed"}
    200  the member
    POST /mailchimp/3.0/lists/57afe96172/members/<md5>/actions/delete-permanent      204
    POST /mailchimp/3.0/campaigns/<id>/actions/pause | resume | unschedule           204

As Mailchimp does: a permanently deleted address cannot be re-added through the API ("Forgotten
Email Not Subscribed"); ``pause``/``resume`` apply to RSS campaigns only (sending <-> paused) and
``unschedule`` to a scheduled campaign (back to ``save``); anything else is a 400 problem document.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState

WRITABLE_STATUSES = frozenset({"subscribed", "unsubscribed", "cleaned", "pending", "transactional"})
VALIDATION = "The resource submitted could not be validated. For field-specific details, see the 'errors' array."
# (action, what the campaign must be) -> the status it moves to
ACTIONS: dict[str, tuple[Callable[[dict[str, Any]], bool], str, str]] = {
    "pause": (lambda c: c["type"] == "rss" and c["status"] == "sending", "paused",
              "Only RSS campaigns that are sending can be paused."),
    "resume": (lambda c: c["type"] == "rss" and c["status"] == "paused", "sending",
               "Only paused RSS campaigns can be resumed."),
    "unschedule": (lambda c: c["status"] == "schedule", "save", "Only scheduled campaigns can be unscheduled."),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Refused = Callable[[Request], "JSONResponse | None"]
Problem = Callable[..., JSONResponse]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # Mailchimp's member id, not security


def add_write_routes(router: APIRouter, state: SimulatorState, refused: Refused, problem: Problem,
                     reindex: Callable[[], None]) -> None:
    forgotten: set[str] = state.throttles.setdefault("mailchimp_forgotten", set())

    async def body_of(request: Request) -> dict[str, Any] | None:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    def invalid(field: str, message: str) -> JSONResponse:
        return problem(400, VALIDATION, errors=[{"field": field, "message": message}])

    def member_at(list_id: str, subscriber_hash: str) -> dict[str, Any] | None:
        member = state.world.members.get(subscriber_hash.lower())
        return member if member is not None and member["list_id"] == list_id else None

    def apply(member: dict[str, Any], body: dict[str, Any], status: str | None) -> None:
        if status is not None and status != member["status"]:
            member["status"] = status
            if status == "subscribed":
                member["timestamp_opt"] = _now()
        if isinstance(body.get("merge_fields"), dict):
            member["merge_fields"] = {**member.get("merge_fields", {}), **body["merge_fields"]}
        member["last_changed"] = _now()

    @router.put("/3.0/lists/{list_id}/members/{subscriber_hash}")
    async def upsert_member(list_id: str, subscriber_hash: str, request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        body = await body_of(request)
        if body is None:
            return problem(400, "We encountered an unspecified JSON parsing error.", title="JSON Parse Error")
        email = body.get("email_address")
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            return invalid("email_address", "This value should be a valid email.")
        if _hash(email) != subscriber_hash.lower():
            return invalid("email_address", "The subscriber hash does not match the email address.")
        status, status_if_new = body.get("status"), body.get("status_if_new")
        for name, value in (("status", status), ("status_if_new", status_if_new)):
            if value is not None and value not in WRITABLE_STATUSES:
                return invalid(name, "Invalid member status.")
        member = member_at(list_id, subscriber_hash)
        if member is None:
            if subscriber_hash.lower() in forgotten:
                return problem(400, f"{email} was permanently deleted and cannot be re-imported. The contact must "
                                    "re-subscribe to get back on the list.", title="Forgotten Email Not Subscribed")
            if status_if_new is None and status is None:
                return invalid("status_if_new", "This value should not be blank.")
            h = subscriber_hash.lower()
            member = state.world.members[h] = {
                "id": h, "email_address": email.strip().lower(), "unique_email_id": h[:10], "email_type": "html",
                "status": status_if_new or status, "merge_fields": body.get("merge_fields") or {},
                "timestamp_opt": _now(), "last_changed": _now(), "member_rating": 2, "vip": False,
                "tags_count": 0, "tags": [], "list_id": list_id}
        else:
            apply(member, body, status)
        reindex()
        return JSONResponse(member)

    @router.patch("/3.0/lists/{list_id}/members/{subscriber_hash}")
    async def update_member(list_id: str, subscriber_hash: str, request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        member = member_at(list_id, subscriber_hash)
        if member is None:
            return problem(404, "The requested resource could not be found.")
        body = await body_of(request)
        if body is None:
            return problem(400, "We encountered an unspecified JSON parsing error.", title="JSON Parse Error")
        status = body.get("status")
        if status is not None and status not in WRITABLE_STATUSES:
            return invalid("status", "Invalid member status.")
        apply(member, body, status)
        reindex()
        return JSONResponse(member)

    @router.post("/3.0/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent")
    async def delete_permanent(list_id: str, subscriber_hash: str, request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        member = member_at(list_id, subscriber_hash)
        if member is None:
            return problem(404, "The requested resource could not be found.")
        del state.world.members[member["id"]]
        forgotten.add(member["id"])
        reindex()
        return Response(status_code=204)

    @router.post("/3.0/campaigns/{campaign_id}/actions/{action}")
    async def campaign_action(campaign_id: str, action: str, request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        campaign = next((c for c in state.world.campaigns if c["id"] == campaign_id), None)
        if campaign is None:
            return problem(404, "The requested resource could not be found.")
        rule = ACTIONS.get(action)
        if rule is None:
            return problem(404, "The requested resource could not be found.")
        allowed, new_status, refusal = rule
        if not allowed(campaign):
            return problem(400, f"{refusal} This campaign is {campaign['type']}, status {campaign['status']}.",
                           title="Invalid Action")
        campaign["status"] = new_status
        reindex()
        return Response(status_code=204)
