"""HubSpot CRM v3 contact writes: property updates (PATCH) and the GDPR delete, as HubSpot answers them.

    PATCH /hubspot/crm/v3/objects/contacts/151       {"properties": {"lifecyclestage": "customer"}}
    200 {"id": "151", "properties": {...}, "createdAt": ..., "updatedAt": ..., "archived": false}
    POST  /hubspot/crm/v3/objects/contacts/gdpr-delete   {"objectId": "151"}      (or idProperty=email)
    204

A PATCH sets only the properties it names (``""`` or null clears one) and bumps
``lastmodifieddate``; an unknown property, a malformed email or an unknown lifecycle stage is a
400 ``VALIDATION_ERROR``, an email another contact holds a 409 ``CONFLICT``. The GDPR delete
removes the contact for good (not archived: it never comes back, not even with ``archived=true``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from harmonia.simulators.core import SimulatorState

WRITABLE = frozenset({"email", "firstname", "lastname", "phone", "lifecyclestage", "shopify_customer_id"})
LIFECYCLE_STAGES = frozenset({"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                              "customer", "evangelist", "other"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Json = Callable[..., Response]
Gate = Callable[[Request], tuple[Response | None, dict[str, str]]]


def _iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _invalid(name: str, error: str, message: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": error, "name": name}


def _check(properties: dict[str, Any]) -> list[dict[str, Any]]:
    problems = []
    for name, value in properties.items():
        if name not in WRITABLE:
            problems.append(_invalid(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
        elif value is not None and not isinstance(value, str | int | float | bool):
            problems.append(_invalid(name, "INVALID_PROPERTY_VALUE", f"{value!r} is not a valid value"))
        elif name == "email" and value and not _EMAIL.match(str(value).strip()):
            problems.append(_invalid(name, "INVALID_EMAIL", f"Email address {value} is invalid"))
        elif name == "lifecyclestage" and value and str(value) not in LIFECYCLE_STAGES:
            problems.append(_invalid(name, "INVALID_OPTION",
                                     f"{value} was not one of the allowed options: {sorted(LIFECYCLE_STAGES)}"))
    return problems


def add_write_routes(router: APIRouter, state: SimulatorState, gate: Gate, objects: str, json: Json,
                     error_body: Callable[..., dict[str, Any]],
                     render: Callable[[dict[str, Any], tuple[str, ...] | None], dict[str, Any]],
                     reindex: Callable[[], None]) -> None:
    def find(key: str, id_property: str | None) -> dict[str, Any] | None:
        wanted = key.strip().lower() if id_property == "email" else key.strip()
        for contact in state.world.contacts:
            if id_property == "email":
                if str(contact["properties"].get("email") or "").strip().lower() == wanted:
                    return contact
            elif contact["id"] == wanted:
                return contact
        return None

    def not_found(key: str, headers: dict[str, str]) -> Response:
        return json(error_body(404, "Object not found.  objectId are usually numeric.", context={"id": [key]}),
                    404, headers)

    @router.post(objects + "/gdpr-delete")
    async def gdpr_delete(request: Request) -> Response:
        refusal, headers = gate(request)
        if refusal is not None:
            return refusal
        try:
            payload = orjson.loads(await request.body())
            object_id = str(payload["objectId"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return json(error_body(400, "Invalid input JSON: expected {objectId, idProperty?}"), 400, headers)
        id_property = payload.get("idProperty")
        if id_property not in (None, "email", "hs_object_id"):
            return json(error_body(400, f"Property {id_property} is not a unique identifier property"), 400, headers)
        contact = find(object_id, "email" if id_property == "email" else None)
        if contact is None:
            return not_found(object_id, headers)
        state.world.contacts.remove(contact)
        reindex()
        return Response(status_code=204, headers=headers)

    @router.patch(objects + "/{contact_id}")
    async def update_contact(request: Request, contact_id: str) -> Response:
        refusal, headers = gate(request)
        if refusal is not None:
            return refusal
        id_property = request.query_params.get("idProperty")
        try:
            payload = orjson.loads(await request.body())
            properties = payload["properties"]
            if not isinstance(properties, dict):
                raise TypeError("properties must be an object")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return json(error_body(400, "Invalid input JSON: expected {properties: {...}}"), 400, headers)
        contact = find(contact_id, id_property)
        if contact is None or contact["archived"]:
            return not_found(contact_id, headers)
        if problems := _check(properties):
            message = f"Property values were not valid: {orjson.dumps(problems).decode()}"
            return json(error_body(400, message, errors=[{"message": p["message"], "code": p["error"]}
                                                         for p in problems]), 400, headers)
        new_email = properties.get("email")
        if new_email:
            owner = find(str(new_email), "email")
            if owner is not None and owner is not contact:
                return json(error_body(409, f"Contact already exists. Existing ID: {owner['id']}"), 409, headers)
        now = _iso_now()
        for name, value in properties.items():
            contact["properties"][name] = None if value in (None, "") else str(value)
        contact["properties"]["lastmodifieddate"] = now
        contact["updatedAt"] = now
        reindex()
        return json(render(contact, tuple(properties)), 200, headers)
