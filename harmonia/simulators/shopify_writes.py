"""The simulated Admin API's customer mutations, with the refusals upstreams.md captured.

    mutation { customerEmailMarketingConsentUpdate(input: {customerId: "gid://shopify/Customer/6200000000",
        emailMarketingConsent: {marketingState: UNSUBSCRIBED, marketingOptInLevel: SINGLE_OPT_IN}}) {
      customer { id } userErrors { field message code } } }

Refusals are ``userErrors`` in an HTTP 200 answer (the payload's object null); a marketing state
that cannot be set (NOT_SUBSCRIBED, REDACTED, INVALID) is a top-level error with code INVALID and
a null payload. ``customerRequestDataErasure`` only enqueues: after ``shopify_erasure_delay_s``
(0 by default: at once) the customer's email, phone, names, note and tags are blanked, its consent
reads REDACTED, and its orders lose their email; what was sold, when and for how much stays.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.shopify_graph import Row, ShopView, customer_node, forget_index, gid, parse_gid
from harmonia.simulators.shopify_search import epoch

Info = GraphQLResolveInfo[ShopView]
ERASURES_KEY = "shopify_erasures"
HAS_ORDERS = "Customer can\u2019t be deleted because they have associated orders"
CONSENT_ON_UPDATE = ("To update emailMarketingConsent, please use the customerEmailMarketingConsentUpdate "
                     "Mutation instead")
PENDING_LEVEL = "Marketing opt in level must be confirmed opt-in for pending consent state"
SETTABLE_STATES = {"SUBSCRIBED", "UNSUBSCRIBED", "PENDING"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{7,20}$")


def _view(info: Info) -> ShopView:
    view: ShopView = info.context
    return view


def _customer(view: ShopView, global_id: str | None) -> Row | None:
    parsed = parse_gid(global_id or "")
    if parsed is None or parsed[0] != "Customer":
        return None
    return next((c for c in view.state.world.shopify_customers if c["id"] == parsed[1]), None)


def _changed(view: ShopView, customer: Row) -> None:
    """An order's ``customer`` shows the customer as it is now; lookups are rebuilt."""
    for order in view.state.world.orders:
        owner = order.get("customer")
        if owner and owner["id"] == customer["id"]:
            order["customer"] = {"id": customer["id"], "email": customer.get("email"),
                                 "first_name": customer.get("first_name"), "last_name": customer.get("last_name")}
    customer["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    forget_index(view.state)


def _taken(view: ShopView, customer: Row, name: str, value: str) -> bool:
    wanted = value.strip().lower()
    return any(str(c.get(name) or "").strip().lower() == wanted and c is not customer
               for c in view.state.world.shopify_customers)


def _update_problems(view: ShopView, customer: Row, values: dict[str, Any]) -> list[Row]:
    problems: list[Row] = []
    if "emailMarketingConsent" in values:
        problems.append({"field": ["emailMarketingConsent"], "message": CONSENT_ON_UPDATE})
    email, phone = values.get("email"), values.get("phone")
    if email:
        if not _EMAIL.match(email.strip()):
            problems.append({"field": ["email"], "message": "Email is invalid"})
        elif _taken(view, customer, "email", email):
            problems.append({"field": ["email"], "message": "Email has already been taken"})
    if phone:
        if not _PHONE.match(phone):
            problems.append({"field": ["phone"], "message": "Phone is invalid"})
        elif _taken(view, customer, "phone", phone):
            problems.append({"field": ["phone"], "message": "Phone has already been taken"})
    return problems


def customer_update(_: Any, info: Info, input: dict[str, Any]) -> Row:
    view = _view(info)
    customer = _customer(view, input.get("id"))
    if customer is None:
        return {"customer": None, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]}
    if problems := _update_problems(view, customer, input):
        return {"customer": None, "userErrors": problems}
    for name, column in (("email", "email"), ("phone", "phone"), ("firstName", "first_name"),
                         ("lastName", "last_name"), ("note", "note")):
        if name in input:
            value = input[name]
            customer[column] = value.strip() if isinstance(value, str) and value.strip() else None
    if "tags" in input:
        customer["tags"] = ", ".join(sorted({t.strip() for t in input["tags"] or [] if t.strip()}))
    _changed(view, customer)
    return {"customer": customer_node(customer), "userErrors": []}


def consent_update(_: Any, info: Info, input: dict[str, Any]) -> Row:
    view = _view(info)
    consent = input["emailMarketingConsent"]
    state, level = consent["marketingState"], consent.get("marketingOptInLevel")
    if state not in SETTABLE_STATES:
        raise GraphQLError(f"Cannot specify {state} as a marketing state input", extensions={"code": "INVALID"})
    customer = _customer(view, input["customerId"])
    if customer is None:
        return {"customer": None, "userErrors": [
            {"field": ["input", "customerId"], "message": "Customer not found", "code": "INVALID"}]}
    if state == "PENDING" and level != "CONFIRMED_OPT_IN":
        return {"customer": None, "userErrors": [
            {"field": ["input", "emailMarketingConsent", "marketingOptInLevel"],
             "message": PENDING_LEVEL, "code": "INVALID"}]}
    when = consent.get("consentUpdatedAt")
    if when is not None and epoch(str(when)) > time.time() + 60:
        return {"customer": None, "userErrors": [
            {"field": ["input", "emailMarketingConsent", "consentUpdatedAt"],
             "message": "Consent updated at must not be in the future", "code": "INVALID"}]}
    if customer.get("email"):  # a customer without an email: no error, and nothing changes
        customer["email_marketing_consent"] = {
            "state": state.lower(), "opt_in_level": (level or "SINGLE_OPT_IN").lower(),
            "consent_updated_at": str(when) if when else datetime.now(UTC).isoformat(timespec="seconds")}
        _changed(view, customer)
    return {"customer": customer_node(customer), "userErrors": []}


def request_erasure(_: Any, info: Info, customerId: str) -> Row:
    view = _view(info)
    customer = _customer(view, customerId)
    if customer is None:
        return {"customerId": None, "userErrors": [
            {"field": ["customerId"], "message": "Customer does not exist", "code": "DOES_NOT_EXIST"}]}
    due = time.monotonic() + view.state.config.shopify_erasure_delay_s
    view.state.throttles.setdefault(ERASURES_KEY, []).append((due, customer["id"]))
    erase_due(view.state)
    return {"customerId": gid("Customer", customer["id"]), "userErrors": []}


def erase_due(state: SimulatorState) -> None:
    """Carry out the erasures whose delay has passed (called before every request is served)."""
    queue: list[tuple[float, int]] = state.throttles.get(ERASURES_KEY) or []
    now = time.monotonic()
    due = [customer_id for when, customer_id in queue if when <= now]
    if not due:
        return
    state.throttles[ERASURES_KEY] = [(when, c) for when, c in queue if when > now]
    for customer in state.world.shopify_customers:
        if customer["id"] in due:
            customer.update({"email": None, "phone": None, "first_name": None, "last_name": None, "note": None,
                             "tags": "", "email_marketing_consent": {"state": "redacted", "opt_in_level": "unknown",
                                                                     "consent_updated_at": None}})
    for order in state.world.orders:
        owner = order.get("customer")
        if owner and owner["id"] in due:
            order["email"] = None
            order["customer"] = {"id": owner["id"], "email": None, "first_name": None, "last_name": None}
    forget_index(state)


def customer_delete(_: Any, info: Info, input: dict[str, Any]) -> Row:
    view = _view(info)
    shop = {"__typename": "Shop", "id": gid("Shop", 1)}
    customer = _customer(view, input["id"])
    if customer is None:
        return {"deletedCustomerId": None, "shop": shop,
                "userErrors": [{"field": ["id"], "message": "Customer can't be found"}]}
    if view.index.orders_by_customer.get(customer["id"]):
        return {"deletedCustomerId": None, "shop": shop, "userErrors": [{"field": ["id"], "message": HAS_ORDERS}]}
    view.state.world.shopify_customers.remove(customer)
    forget_index(view.state)
    return {"deletedCustomerId": gid("Customer", customer["id"]), "shop": shop, "userErrors": []}


def attach(schema: GraphQLSchema) -> GraphQLSchema:
    mutation = schema.mutation_type
    assert mutation is not None
    resolvers: dict[str, Callable[..., Any]] = {
        "customerUpdate": customer_update, "customerEmailMarketingConsentUpdate": consent_update,
        "customerRequestDataErasure": request_erasure, "customerDelete": customer_delete}
    for name, resolver in resolvers.items():
        mutation.fields[name].resolve = resolver
    return schema
