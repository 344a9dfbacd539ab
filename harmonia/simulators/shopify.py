"""Shopify Admin REST simulator: customers and orders under ``/admin/api/{YYYY-MM}/``.

    GET /shopify/admin/api/2024-04/orders.json?status=any&limit=50
        X-Shopify-Access-Token: shpat_demo_shopify_token
    200 {"orders": [...]}
        Link: <http://host/shopify/admin/api/2024-04/orders.json?limit=50&page_info=eyJ...>; rel="next"
        X-Shopify-Shop-Api-Call-Limit: 1/40

Shopify's quirks are kept: orders default to ``status=open``; cursors are opaque ``page_info``
values in a ``Link`` header with the first request's filters frozen inside, so a follow-up may
carry only ``page_info``, ``limit`` and ``fields``; ``page=`` is refused; a leaky bucket per token
(40 calls, draining 2/s) answers 429 with ``Retry-After: 2.0`` when full. Customer writes (PUT,
DELETE) live in ``shopify_writes``.
"""

from __future__ import annotations

import base64
import math
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from harmonia.simulators import shopify_writes
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World

SOURCE = "shopify"
BUCKET_KEY = "shopify"  # state.throttles[BUCKET_KEY] is the LeakyBucket tests may resize or pre-fill
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLE_ERROR = ("Exceeded 2 calls per second for api client. "
                  "Reduce request rates to resume uninterrupted service.")
PAGINATION_DOCS = "https://shopify.dev/api/usage/pagination-rest"
DEFAULT_LIMIT, MAX_LIMIT = 50, 250
ORDER_STATUSES = ("open", "closed", "cancelled", "any")
CURSOR_PARAMS = frozenset({"page_info", "limit", "fields"})
_VERSION = re.compile(r"^\d{4}-\d{2}$")

Row = dict[str, Any]


def render_error(status: int, message: str) -> Response:
    return _json({"errors": message}, status)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    # orjson: list pages of 250 orders are the simulator's hottest path.
    return Response(orjson.dumps(body), status_code=status, headers=dict(headers or {}),
                    media_type="application/json")


class BadRequest(Exception):
    """A 400 in Shopify's field-keyed shape: ``{"errors": {field: message}}``."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.body = {"errors": {param: message}}


@dataclass
class LeakyBucket:
    """Shopify's per-token bucket: ``size`` calls, draining ``leak_per_second``."""

    size: int = 40
    leak_per_second: float = 2.0
    _levels: dict[str, tuple[float, float]] = field(default_factory=dict)  # token -> (level, stamp)

    def level(self, token: str) -> float:
        level, stamp = self._levels.get(token, (0.0, time.monotonic()))
        return max(0.0, level - (time.monotonic() - stamp) * self.leak_per_second)

    def fill(self, token: str, level: float) -> None:
        self._levels[token] = (level, time.monotonic())

    def take(self, token: str) -> tuple[bool, int]:
        """(allowed, calls the header reports) for one more call by ``token``."""
        level = self.level(token)
        if level + 1 > self.size:
            self.fill(token, level)
            return False, self.size
        self.fill(token, level + 1)
        return True, math.ceil(level + 1)


@dataclass
class _Index:
    """Lookups built once per world so a request never scans the whole store."""

    customers: list[Row]
    customer_ids: list[int]
    customers_by_id: dict[int, Row]
    customers_by_email: dict[str, list[Row]]
    customer_created: dict[int, float]
    orders_by_id: dict[int, Row]
    orders_by_status: dict[str, tuple[list[Row], list[int]]]
    orders_by_customer: dict[int, list[Row]]
    order_created: dict[int, float]


def _status_of(order: Row) -> str:
    return "cancelled" if order.get("cancelled_at") else "closed" if order.get("closed_at") else "open"


def _epoch(text: str) -> float:
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _build_index(world: World) -> _Index:
    customers = sorted(world.shopify_customers, key=lambda c: int(c["id"]))
    by_email: dict[str, list[Row]] = {}
    for customer in customers:
        if customer.get("email"):
            by_email.setdefault(customer["email"].strip().lower(), []).append(customer)
    orders = sorted(world.orders, key=lambda o: int(o["id"]))
    by_status: dict[str, tuple[list[Row], list[int]]] = {}
    for status in ORDER_STATUSES:
        rows = orders if status == "any" else [o for o in orders if _status_of(o) == status]
        by_status[status] = (rows, [o["id"] for o in rows])
    by_customer: dict[int, list[Row]] = {}
    for order in orders:
        if order.get("customer"):
            by_customer.setdefault(order["customer"]["id"], []).append(order)
    return _Index(
        customers=customers, customer_ids=[c["id"] for c in customers],
        customers_by_id={c["id"]: c for c in customers}, customers_by_email=by_email,
        customer_created={c["id"]: _epoch(c["created_at"]) for c in customers},
        orders_by_id={o["id"]: o for o in orders}, orders_by_status=by_status,
        orders_by_customer=by_customer, order_created={o["id"]: _epoch(o["created_at"]) for o in orders},
    )


def _index(state: SimulatorState) -> _Index:
    cached = state.throttles.get("shopify_index")
    if cached is None or cached[0] is not state.world:
        cached = (state.world, _build_index(state.world))
        state.throttles["shopify_index"] = cached
    index: _Index = cached[1]
    return index


# --- query parsing --------------------------------------------------------------------------

def _limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("limit", "Expected limit to be an Integer") from None
    # Shopify does not reject a limit over 250, it serves 250 (the cap is silent; upstreams.md R7).
    return max(1, min(MAX_LIMIT, value))


def _fields(query: Mapping[str, str]) -> list[str] | None:
    raw = query.get("fields")
    names = [name.strip() for name in raw.split(",") if name.strip()] if raw else []
    return names or None


def _filters(resource: str, query: Mapping[str, str]) -> dict[str, Any]:
    """The first request's filters, JSON-safe so they can ride inside ``page_info``."""
    found: dict[str, Any] = {}
    if resource in ("orders", "customer_orders"):
        status = query.get("status") or "open"
        if status not in ORDER_STATUSES:
            raise BadRequest("status", f"status must be one of {', '.join(ORDER_STATUSES)}")
        found["status"] = status
    if resource == "search":
        found["q"] = query.get("query", "")
    if ids := query.get("ids"):
        found["ids"] = sorted({int(part) for part in ids.split(",") if part.strip().isdigit()})
    if (since := query.get("since_id")) is not None:
        if not since.strip().isdigit():
            raise BadRequest("since_id", "Expected since_id to be an Integer")
        found["since_id"] = int(since)
    for bound in ("created_at_min", "created_at_max"):
        if (value := query.get(bound)) is not None:
            try:
                found[bound] = _epoch(value)
            except ValueError:
                raise BadRequest(bound, f"{bound} is not a valid date") from None
    return found


def _search_term(query: str) -> tuple[str | None, str]:
    """``email:bob@x.com`` or ``email:"bob@x.com"`` -> ("email", "bob@x.com"); else free text."""
    text = query.strip()
    name, sep, value = text.partition(":")
    if sep and name.strip().lower() == "email":
        return "email", value.strip().strip('"').strip("'").strip().lower()
    return None, text.strip('"').lower()


# --- cursors ----------------------------------------------------------------------------

def _encode_cursor(resource: str, filters: dict[str, Any], last_id: int, direction: str) -> str:
    payload = {"r": resource, "f": filters, "last_id": last_id, "direction": direction}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


def _decode_cursor(resource: str, token: str) -> tuple[dict[str, Any], int, str]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if (not isinstance(payload, dict) or payload.get("r") != resource
                or not isinstance(payload.get("f"), dict) or not isinstance(payload.get("last_id"), int)
                or payload.get("direction") not in ("next", "prev")):
            raise ValueError("not one of ours")
    except ValueError:
        raise BadRequest("page_info", "Invalid value.") from None
    return payload["f"], payload["last_id"], payload["direction"]


# --- selection and paging ---------------------------------------------------------------

def _rows(index: _Index, resource: str, filters: Mapping[str, Any]) -> tuple[list[Row], list[int]]:
    """Candidate records sorted by id (with their ids), before date bounds."""
    if resource in ("customers", "search"):
        if resource == "search":
            kind, term = _search_term(filters.get("q", ""))
            if kind == "email":
                rows = index.customers_by_email.get(term, [])
            else:
                rows = [c for c in index.customers if term in " ".join(
                    str(c.get(k) or "") for k in ("email", "first_name", "last_name")).lower()]
        elif "ids" in filters:
            rows = [index.customers_by_id[i] for i in filters["ids"] if i in index.customers_by_id]
        else:
            return index.customers, index.customer_ids
        return rows, [r["id"] for r in rows]
    status = filters.get("status", "open")
    if "customer_id" in filters:
        rows = index.orders_by_customer.get(filters["customer_id"], [])
    elif "ids" in filters:
        rows = [index.orders_by_id[i] for i in filters["ids"] if i in index.orders_by_id]
    else:
        return index.orders_by_status[status]
    if status != "any":
        rows = [o for o in rows if _status_of(o) == status]
    return rows, [o["id"] for o in rows]


def _date_filter(created: dict[int, float], filters: Mapping[str, Any]) -> Callable[[Row], bool] | None:
    low, high = filters.get("created_at_min"), filters.get("created_at_max")
    if low is None and high is None:
        return None

    def keep(row: Row) -> bool:
        stamp = created[row["id"]]
        return (low is None or stamp >= low) and (high is None or stamp <= high)

    return keep


def _window(rows: list[Row], ids: list[int], keep: Callable[[Row], bool] | None, limit: int,
            direction: str, anchor: int | None, since_id: int | None) -> tuple[list[Row], bool, bool]:
    """(page, more before it, more after it) for a page of ``limit`` rows beside ``anchor``."""
    lo = bisect_right(ids, since_id) if since_id is not None else 0
    ok = keep or (lambda _row: True)

    def any_in(indexes: range) -> bool:
        return any(ok(rows[j]) for j in indexes)

    page: list[Row] = []
    if direction == "next":
        i = max(lo, bisect_right(ids, anchor)) if anchor is not None else lo
        start = i
        while i < len(rows) and len(page) < limit:
            if ok(rows[i]):
                page.append(rows[i])
            i += 1
        before = anchor is not None and any_in(range(start - 1, lo - 1, -1))
        return page, before, any_in(range(i, len(rows)))
    end = bisect_left(ids, anchor if anchor is not None else 0)
    i = end - 1
    while i >= lo and len(page) < limit:
        if ok(rows[i]):
            page.append(rows[i])
        i -= 1
    page.reverse()
    return page, any_in(range(i, lo - 1, -1)), any_in(range(end, len(rows)))


def _project(row: Row, fields: list[str] | None) -> Row:
    return row if fields is None else {k: v for k, v in row.items() if k in fields}


# --- routes -----------------------------------------------------------------------------

def build_router(state: SimulatorState) -> APIRouter:
    router = APIRouter(dependencies=[Depends(state.tracked(SOURCE))])
    state.throttles.setdefault(BUCKET_KEY, LeakyBucket())

    def gate(request: Request, version: str) -> Response | dict[str, str]:
        """The version, the token, then the bucket: a rejection, or headers for the answer."""
        if not _VERSION.match(version):
            return render_error(404, "Not Found")
        token = request.headers.get("X-Shopify-Access-Token")
        if token is None or token != state.config.credentials.get("shopify_token"):
            return render_error(401, AUTH_ERROR)
        if not state.config.rate_limits:
            return {}
        bucket: LeakyBucket | None = state.throttles.get(BUCKET_KEY)
        if bucket is None:
            bucket = state.throttles[BUCKET_KEY] = LeakyBucket()
        allowed, used = bucket.take(token)
        headers = {CALL_LIMIT_HEADER: f"{used}/{bucket.size}"}
        if not allowed:
            return _json({"errors": THROTTLE_ERROR}, 429, {**headers, "Retry-After": "2.0"})
        return headers

    def serve_list(request: Request, version: str, resource: str, key: str,
                   scope: dict[str, Any] | None = None) -> Response:
        headers = gate(request, version)
        if isinstance(headers, Response):
            return headers
        query = request.query_params
        try:
            if "page" in query:
                raise BadRequest("page", "page cannot be passed.")
            limit, fields = _limit(query), _fields(query)
            if "page_info" in query:
                for param in query:
                    if param not in CURSOR_PARAMS:
                        raise BadRequest(param, f"{param} cannot be passed when page_info is present. "
                                                f"See {PAGINATION_DOCS} for more information.")
                filters, anchor, direction = _decode_cursor(resource, query["page_info"])
                if any(filters.get(k) != v for k, v in (scope or {}).items()):
                    raise BadRequest("page_info", "Invalid value.")
            else:
                filters, anchor, direction = {**_filters(resource, query), **(scope or {})}, None, "next"
        except BadRequest as exc:
            return _json(exc.body, 400, headers)
        index = _index(state)
        rows, ids = _rows(index, resource, filters)
        created = index.order_created if key == "orders" else index.customer_created
        page, before, after = _window(rows, ids, _date_filter(created, filters), limit, direction, anchor,
                                      filters.get("since_id"))
        links = []
        for rel, more, row, way in (("next", after, page[-1] if page else None, "next"),
                                    ("previous", before, page[0] if page else None, "prev")):
            if more and row is not None:
                params = {"limit": limit, **({"fields": ",".join(fields)} if fields else {}),
                          "page_info": _encode_cursor(resource, filters, row["id"], way)}
                links.append(f'<{request.url.replace(query=urlencode(params))}>; rel="{rel}"')
        if links:
            headers = {**headers, "Link": ", ".join(links)}
        return _json({key: [_project(r, fields) for r in page]}, 200, headers)

    def serve_one(request: Request, version: str, table: dict[int, Row], raw_id: str, key: str) -> Response:
        headers = gate(request, version)
        if isinstance(headers, Response):
            return headers
        row = table.get(int(raw_id)) if raw_id.isdigit() else None
        if row is None:
            return _json({"errors": "Not Found"}, 404, headers)
        return _json({key: _project(row, _fields(request.query_params))}, 200, headers)

    def serve_count(request: Request, version: str, resource: str, key: str) -> Response:
        headers = gate(request, version)
        if isinstance(headers, Response):
            return headers
        try:
            filters = _filters(resource, request.query_params)
        except BadRequest as exc:
            return _json(exc.body, 400, headers)
        index = _index(state)
        rows, _ids = _rows(index, resource, filters)
        keep = _date_filter(index.order_created if key == "orders" else index.customer_created, filters)
        since = filters.get("since_id", -1)
        count = sum(1 for r in rows if r["id"] > since and (keep is None or keep(r)))
        return _json({"count": count}, 200, headers)

    base = "/admin/api/{version}"

    @router.get(base + "/customers.json")
    async def customers(version: str, request: Request) -> Response:
        return serve_list(request, version, "customers", "customers")

    @router.get(base + "/customers/search.json")
    async def search_customers(version: str, request: Request) -> Response:
        return serve_list(request, version, "search", "customers")

    @router.get(base + "/customers/count.json")
    async def count_customers(version: str, request: Request) -> Response:
        return serve_count(request, version, "customers", "customers")

    @router.get(base + "/customers/{customer_id}.json")
    async def customer(version: str, customer_id: str, request: Request) -> Response:
        return serve_one(request, version, _index(state).customers_by_id, customer_id, "customer")

    @router.get(base + "/customers/{customer_id}/orders.json")
    async def customer_orders(version: str, customer_id: str, request: Request) -> Response:
        index = _index(state)
        if not customer_id.isdigit() or int(customer_id) not in index.customers_by_id:
            headers = gate(request, version)
            return headers if isinstance(headers, Response) else _json({"errors": "Not Found"}, 404, headers)
        return serve_list(request, version, "customer_orders", "orders", {"customer_id": int(customer_id)})

    @router.get(base + "/orders.json")
    async def orders(version: str, request: Request) -> Response:
        return serve_list(request, version, "orders", "orders")

    @router.get(base + "/orders/count.json")
    async def count_orders(version: str, request: Request) -> Response:
        return serve_count(request, version, "orders", "orders")

    @router.get(base + "/orders/{order_id}.json")
    async def order(version: str, order_id: str, request: Request) -> Response:
        return serve_one(request, version, _index(state).orders_by_id, order_id, "order")

    shopify_writes.add_write_routes(router, state, gate, base, _json,
                                    reindex=lambda: state.throttles.pop("shopify_index", None))
    return router
