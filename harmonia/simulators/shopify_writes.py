"""Shopify Admin REST customer writes: update (PUT, email marketing consent included) and delete.

    PUT    /shopify/admin/api/2024-04/customers/6200000000.json
           {"customer": {"id": 6200000000, "email_marketing_consent": {"state": "unsubscribed",
                         "opt_in_level": "single_opt_in", "consent_updated_at": "2026-11-25T10:00:00Z"}}}
    200    {"customer": {...}}
    DELETE /shopify/admin/api/2024-04/customers/6200000000.json
    200    {}            422 {"errors": {"base": [...]}} when the customer has orders

As Shopify does: validation failures are 422 ``{"errors": {field: [message]}}``; a customer with
orders cannot be deleted (422), only updated; the order's ``customer`` object shows the customer as
it is now, so an update shows on their orders too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from harmonia.simulators.core import SimulatorState

UPDATABLE = frozenset({"first_name", "last_name", "email", "phone", "note", "tags", "addresses",
                       "email_marketing_consent", "accepts_marketing", "verified_email", "state"})
CONSENT_STATES = frozenset({"subscribed", "not_subscribed", "unsubscribed", "pending"})
OPT_IN_LEVELS = frozenset({"single_opt_in", "confirmed_opt_in", "unknown"})
HAS_ORDERS = "Error deleting customer: customers with orders cannot be deleted"  # message text unverified
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{7,20}$")

Json = Callable[..., Response]
Gate = Callable[[Request, str], "Response | dict[str, str]"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _problems(customer: Mapping[str, Any], changes: Mapping[str, Any],
              others: Callable[[str], bool]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in changes:
        if name not in UPDATABLE and name != "id":
            errors.setdefault(name, []).append("is not a writable attribute")
    email = changes.get("email")
    if email:
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            errors.setdefault("email", []).append("is invalid")
        elif others(email.strip().lower()):
            errors.setdefault("email", []).append("has already been taken")
    phone = changes.get("phone")
    if phone and (not isinstance(phone, str) or not _PHONE.match(phone)):
        errors.setdefault("phone", []).append("is invalid")
    consent = changes.get("email_marketing_consent")
    if consent is not None:
        if not isinstance(consent, dict) or consent.get("state") not in CONSENT_STATES:
            errors.setdefault("email_marketing_consent", []).append("state is not included in the list")
        elif consent.get("opt_in_level") not in (None, *OPT_IN_LEVELS):
            errors.setdefault("email_marketing_consent", []).append("opt_in_level is not included in the list")
        elif not (changes.get("email", customer.get("email"))):
            errors.setdefault("email_marketing_consent", []).append("requires an email address")
    return errors


def add_write_routes(router: APIRouter, state: SimulatorState, gate: Gate, base: str, json: Json,
                     reindex: Callable[[], None]) -> None:
    def find(raw_id: str) -> dict[str, Any] | None:
        if not raw_id.isdigit():
            return None
        return next((c for c in state.world.shopify_customers if c["id"] == int(raw_id)), None)

    def reflect_on_orders(customer: dict[str, Any]) -> None:
        for order in state.world.customer_orders(customer["id"]):
            order["customer"] = {"id": customer["id"], "email": customer.get("email"),
                                 "first_name": customer.get("first_name"), "last_name": customer.get("last_name")}

    @router.put(base + "/customers/{customer_id}.json")
    async def update_customer(version: str, customer_id: str, request: Request) -> Response:
        headers = gate(request, version)
        if isinstance(headers, Response):
            return headers
        customer = find(customer_id)
        if customer is None:
            return json({"errors": "Not Found"}, 404, headers)
        try:
            changes = orjson.loads(await request.body())["customer"]
            if not isinstance(changes, dict):
                raise TypeError("customer must be an object")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return json({"errors": {"customer": "Required parameter missing or invalid"}}, 400, headers)

        def taken(email: str) -> bool:
            return any(str(c.get("email") or "").strip().lower() == email and c is not customer
                       for c in state.world.shopify_customers)

        if errors := _problems(customer, changes, taken):
            return json({"errors": errors}, 422, headers)
        for name, value in changes.items():
            if name == "email_marketing_consent":
                customer[name] = {"state": value["state"],
                                  "opt_in_level": value.get("opt_in_level") or "single_opt_in",
                                  "consent_updated_at": value.get("consent_updated_at") or _now()}
            elif name != "id":
                customer[name] = value
        customer["updated_at"] = _now()
        reflect_on_orders(customer)
        reindex()
        return json({"customer": customer}, 200, headers)

    @router.delete(base + "/customers/{customer_id}.json")
    async def delete_customer(version: str, customer_id: str, request: Request) -> Response:
        headers = gate(request, version)
        if isinstance(headers, Response):
            return headers
        customer = find(customer_id)
        if customer is None:
            return json({"errors": "Not Found"}, 404, headers)
        if state.world.customer_orders(customer["id"]):
            return json({"errors": {"base": [HAS_ORDERS]}}, 422, headers)
        state.world.shopify_customers.remove(customer)
        reindex()
        return json({}, 200, headers)
