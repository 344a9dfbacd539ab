"""Google Ads API simulator: ``googleAds:searchStream`` and ``:search`` over a GAQL subset, on campaigns.

    app.include_router(build_router(state), prefix="/googleads")
    POST /googleads/v26/customers/1234567890/googleAds:searchStream
         Authorization: Bearer <token>   developer-token: <token>
         {"query": "SELECT campaign.id, metrics.clicks FROM campaign WHERE segments.date DURING LAST_7_DAYS"}
    -> [{"results": [{"campaign": {"resourceName": "...", "id": "111"}, "metrics": {"clicks": "512"}}],
         "fieldMask": "campaign.id,metrics.clicks", "requestId": "..."}]

Rows are proto3 JSON: lowerCamelCase keys, int64 as strings, doubles as numbers. Metrics without
``segments.date`` aggregate per campaign over the filtered dates; with it, one row per campaign per
day. Errors are Google's envelope with a ``GoogleAdsFailure`` in ``details``; a query this
subset cannot read is answered with the ``queryError`` the real API would give.
"""

from __future__ import annotations

import base64
import bisect
import operator
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators import googleads_writes
from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import World

SOURCE = "googleads"
DEFAULT_VERSION = "v26"
# Live major versions (upstreams.md, checked 2026-12): v19-v22 were sunset during 2026, older ones before.
LIVE_VERSIONS = frozenset({"v23", "v24", "v25", "v26"})
PAGE_SIZE = 10_000  # both the :search page and the searchStream batch
QPS = 10.0  # token bucket per customer: burst of QPS, refilled QPS per second
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request is missing required authentication credential. Expected OAuth 2 access token, login "
         "cookie or other valid authentication credential. See "
         "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "The caller does not have permission",
    429: "Resource has been exhausted (e.g. check quota).",
}

# ---- GAQL: the subset of the Google Ads Query Language the simulator answers ----------------------

FIELDS = {  # selectable/filterable field -> value kind
    "campaign.resource_name": "string", "campaign.id": "int64", "campaign.name": "string",
    "campaign.status": "enum", "campaign.advertising_channel_type": "enum", "segments.date": "date",
    "metrics.impressions": "int64", "metrics.clicks": "int64", "metrics.cost_micros": "int64",
    "metrics.conversions": "double", "metrics.ctr": "double",
}
ENUMS = {
    "campaign.status": frozenset({"UNSPECIFIED", "UNKNOWN", "ENABLED", "PAUSED", "REMOVED"}),
    "campaign.advertising_channel_type": frozenset({
        "UNSPECIFIED", "UNKNOWN", "SEARCH", "DISPLAY", "SHOPPING", "HOTEL", "VIDEO", "MULTI_CHANNEL", "LOCAL",
        "SMART", "PERFORMANCE_MAX", "LOCAL_SERVICES", "TRAVEL", "DEMAND_GEN"}),
}
DURING = frozenset({"TODAY", "YESTERDAY", "LAST_7_DAYS", "LAST_14_DAYS", "LAST_30_DAYS", "LAST_BUSINESS_WEEK",
                    "THIS_MONTH", "LAST_MONTH", "THIS_WEEK_SUN_TODAY", "THIS_WEEK_MON_TODAY",
                    "LAST_WEEK_SUN_SAT", "LAST_WEEK_MON_SUN"})
COMPARISONS = frozenset({"=", "!=", ">", ">=", "<", "<="})
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<num>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<op>!=|>=|<=|=|>|<|\(|\)|,)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*))""", re.X)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class GaqlError(Exception):
    """A query the API refuses; ``code`` is the ``QueryErrorEnum`` name."""

    def __init__(self, code: str, message: str, trigger: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.trigger = code, message, trigger


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # a comparison, IN, NOT IN, BETWEEN or DURING
    values: tuple[Any, ...]


@dataclass
class Query:
    select: list[str]
    where: list[Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            rest = text[pos:].lstrip()
            if not rest:
                break
            if rest[0] in "'\"":
                raise GaqlError("STRING_NOT_TERMINATED", "The query contains an unterminated string.", rest)
            raise GaqlError("BAD_SYMBOL", "The query contains an unexpected symbol.", rest[0])
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append((kind, re.sub(r"\\(.)", r"\1", value[1:-1]) if kind == "str" else value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise GaqlError("UNEXPECTED_END_OF_QUERY", "The query ended unexpectedly.")
        self.pos += 1
        return token

    def keyword(self, *words: str) -> bool:
        """Consume the keyword sequence ``words`` if it comes next (case-insensitive)."""
        ahead = self.tokens[self.pos:self.pos + len(words)]
        if [v.upper() for k, v in ahead if k == "word"] == list(words):
            self.pos += len(words)
            return True
        return False

    def field_name(self, clause: str) -> str:
        kind, value = self.take()
        if kind != "word":
            raise GaqlError("UNEXPECTED_INPUT", f"Expected a field name in the {clause} clause.", value)
        if value not in FIELDS:
            raise GaqlError("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{value}'.", value)
        return value

    def query(self) -> Query:
        if not self.keyword("SELECT"):
            raise GaqlError("EXPECTED_SELECT", "The query must begin with SELECT.")
        select = [self.field_name("SELECT")]
        while self.peek() == ("op", ","):
            self.pos += 1
            select.append(self.field_name("SELECT"))
        if not self.keyword("FROM"):
            raise GaqlError("EXPECTED_FROM", "The query must have a FROM clause after SELECT.")
        _, resource = self.take()
        if resource != "campaign":
            raise GaqlError("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", f"Invalid resource in FROM: '{resource}'.",
                            resource)
        query = Query(select=list(dict.fromkeys(select)))
        if self.keyword("WHERE"):
            query.where.append(self.condition())
            while self.keyword("AND"):
                query.where.append(self.condition())
        if self.keyword("ORDER"):
            if not self.keyword("BY"):
                raise GaqlError("EXPECTED_BY", "ORDER must be followed by BY.")
            while True:
                name = self.field_name("ORDER BY")
                descending = self.keyword("DESC")
                if not descending:
                    self.keyword("ASC")
                query.order_by.append((name, descending))
                if self.peek() != ("op", ","):
                    break
                self.pos += 1
        if self.keyword("LIMIT"):
            kind, value = self.take()
            if kind != "num" or not value.lstrip("-").isdigit():
                raise GaqlError("BAD_LIMIT_VALUE", "LIMIT must be a whole number.", value)
            if int(value) <= 0:
                raise GaqlError("LIMIT_VALUE_TOO_LOW", "LIMIT must be at least 1.", value)
            query.limit = int(value)
        if self.keyword("PARAMETERS"):
            self.pos = len(self.tokens)  # include_drafts and friends change nothing here
        if (extra := self.peek()) is not None:
            raise GaqlError("UNEXPECTED_INPUT", "The query has an unexpected extra part.", extra[1])
        return query

    def condition(self) -> Condition:
        name = self.field_name("WHERE")
        kind, op = self.take()
        if kind == "op" and op in COMPARISONS:
            if self.peek() == ("op", "("):
                raise GaqlError("EXPECTED_SINGLE_VALUE", f"The {op} operator takes a single value.", op)
            return _typed(name, op, [self.take()])
        word = op.upper()
        if kind == "word" and word == "NOT" and self.keyword("IN"):
            word = "NOT IN"
        if kind == "word" and word in ("IN", "NOT IN"):
            if self.take() != ("op", "("):
                raise GaqlError("EXPECTED_LIST", f"The {word} operator takes a parenthesized list.", op)
            values = []
            while (token := self.take()) != ("op", ")"):
                if token != ("op", ","):
                    values.append(token)
            if not values:
                raise GaqlError("PROHIBITED_EMPTY_LIST_IN_CONDITION", "The list is empty.", name)
            return _typed(name, word, values)
        if kind == "word" and word == "BETWEEN":
            low = self.take()
            if not self.keyword("AND"):
                raise GaqlError("EXPECTED_AND", "BETWEEN needs two values joined by AND.", name)
            return _typed(name, word, [low, self.take()])
        if kind == "word" and word == "DURING":
            return _typed(name, word, [self.take()])
        raise GaqlError("BAD_OPERATOR", f"Invalid operator: '{op}'.", op)


def _typed(name: str, op: str, tokens: list[tuple[str, str]]) -> Condition:
    """Check each value against the field's type, as the API does before running anything."""
    kind = FIELDS[name]
    if kind == "date":
        if op in ("IN", "NOT IN", "!="):
            raise GaqlError("OPERATOR_FIELD_MISMATCH", f"{op} cannot filter segments.date here.", op)
        if op == "DURING":
            literal = tokens[0][1]
            if tokens[0][0] != "word" or literal not in DURING:
                raise GaqlError("INVALID_VALUE_WITH_DURING_OPERATOR", "DURING takes a date range literal.",
                                literal)
            return Condition(name, op, (literal,))
        values = []
        for token_kind, text in tokens:
            try:
                if token_kind != "str" or not _DATE.fullmatch(text):
                    raise ValueError(text)
                values.append(date.fromisoformat(text))
            except ValueError:
                code = "INVALID_VALUE_WITH_BETWEEN_OPERATOR" if op == "BETWEEN" else "INVALID_DATE_FORMAT"
                raise GaqlError(code, "Dates must be quoted and in 'YYYY-MM-DD' form.", text) from None
        if op == "BETWEEN" and values[0] > values[1]:
            raise GaqlError("DATE_RANGE_TOO_NARROW", "The date range starts after it ends.", name)
        return Condition(name, op, tuple(values))
    if op in ("BETWEEN", "DURING"):
        raise GaqlError("OPERATOR_FIELD_MISMATCH", f"{op} only applies to dates here.", op)
    coerced: list[Any] = []
    for token_kind, text in tokens:
        if kind == "string":
            if token_kind != "str":
                raise GaqlError("INVALID_STRING_VALUE", f"{name} takes a quoted string.", text)
            coerced.append(text)
        elif kind == "enum":
            if token_kind == "num" or text not in ENUMS[name]:
                raise GaqlError("BAD_ENUM_CONSTANT", f"Invalid value for {name}: '{text}'.", text)
            coerced.append(text)
        elif token_kind != "num" or (kind == "int64" and not text.lstrip("-").isdigit()):
            raise GaqlError("BAD_NUMBER" if token_kind == "num" else "BAD_VALUE",
                            f"{name} takes a number.", text)
        else:
            coerced.append(int(text) if kind == "int64" else float(text))
    return Condition(name, op, tuple(coerced))


def parse_query(text: str) -> Query:
    return _Parser(text).query()


def holds(value: Any, cond: Condition) -> bool:
    op, values = cond.op, cond.values
    if op == "IN":
        return value in values
    if op == "NOT IN":
        return value not in values
    operand = values[0]
    return bool({"=": value == operand, "!=": value != operand, ">": value > operand,
                 ">=": value >= operand, "<": value < operand, "<=": value <= operand}[op])


def _during(literal: str, today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    last_month_end = today.replace(day=1) - timedelta(days=1)
    spans = {
        "TODAY": (today, today), "YESTERDAY": (today - timedelta(1), today - timedelta(1)),
        "LAST_7_DAYS": (today - timedelta(7), today - timedelta(1)),
        "LAST_14_DAYS": (today - timedelta(14), today - timedelta(1)),
        "LAST_30_DAYS": (today - timedelta(30), today - timedelta(1)),
        "LAST_BUSINESS_WEEK": (monday - timedelta(7), monday - timedelta(3)),
        "THIS_MONTH": (today.replace(day=1), today),
        "LAST_MONTH": (last_month_end.replace(day=1), last_month_end),
        "THIS_WEEK_SUN_TODAY": (sunday, today), "THIS_WEEK_MON_TODAY": (monday, today),
        "LAST_WEEK_SUN_SAT": (sunday - timedelta(7), sunday - timedelta(1)),
        "LAST_WEEK_MON_SUN": (monday - timedelta(7), monday - timedelta(1)),
    }
    return spans[literal]


def date_bounds(query: Query, today: date) -> tuple[date | None, date | None]:
    """The inclusive date range all ``segments.date`` conditions leave; ``today`` anchors DURING."""
    lo: date | None = None
    hi: date | None = None
    for cond in query.where:
        if cond.field != "segments.date":
            continue
        if cond.op == "DURING":
            low, high = _during(cond.values[0], today)
        elif cond.op == "BETWEEN":
            low, high = cond.values
        else:
            day = cond.values[0]
            low = {"=": day, ">": day + timedelta(1), ">=": day}.get(cond.op, date.min)
            high = {"=": day, "<": day - timedelta(1), "<=": day}.get(cond.op, date.max)
        lo = low if lo is None or low > lo else lo
        hi = high if hi is None or high < hi else hi
    if lo == date.min:
        lo = None
    if hi == date.max:
        hi = None
    return lo, hi


def request_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).decode()[:22]


def envelope(code: int, message: str | None = None, *, errors: list[dict[str, Any]] | None = None,
             version: str = DEFAULT_VERSION, rid: str | None = None) -> JSONResponse:
    """Google's error body; Google Ads errors add a ``GoogleAdsFailure`` under ``details``."""
    rid = rid or request_id()
    error: dict[str, Any] = {"code": code, "status": STATUS_NAMES.get(code, "UNKNOWN"),
                             "message": message or MESSAGES.get(code, "Internal error encountered.")}
    if errors is not None:
        failure = f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"
        error["details"] = [{"@type": failure, "errors": errors, "requestId": rid}]
    return JSONResponse({"error": error}, status_code=code, headers={"request-id": rid})


def render_error(status: int, message: str) -> Response:
    errors = None
    if status == 429:
        errors = [{"errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "message": message}]
    elif status >= 500:
        errors = [{"errorCode": {"internalError": "TRANSIENT_ERROR"}, "message": message}]
    return envelope(status, message if status not in MESSAGES else None, errors=errors)


def _query_error(exc: GaqlError, version: str, rid: str) -> JSONResponse:
    error: dict[str, Any] = {"errorCode": {"queryError": exc.code}, "message": exc.message}
    if exc.trigger is not None:
        error["trigger"] = {"stringValue": exc.trigger}
    return envelope(400, errors=[error], version=version, rid=rid)


@dataclass
class _AdsIndex:
    """Prefix sums per campaign over the sorted days, so any date range sums in O(1)."""

    world: World
    dates: list[str]
    # campaign id -> prefix sums of [impressions, clicks, cost, conversions x 100] over ``dates``
    sums: dict[str, list[list[int]]]
    present: dict[str, list[bool]]  # campaign id -> has a fact on day i


def _build_index(world: World) -> _AdsIndex:
    dates = sorted({f["date"] for f in world.ads_daily})
    position = {d: i for i, d in enumerate(dates)}
    daily = {c["id"]: [[0] * len(dates) for _ in range(4)] for c in world.ads_campaigns}
    present = {c["id"]: [False] * len(dates) for c in world.ads_campaigns}
    for fact in world.ads_daily:
        series, i = daily.get(fact["campaign_id"]), position[fact["date"]]
        if series is None:
            continue
        present[fact["campaign_id"]][i] = True
        for k, value in enumerate((fact["impressions"], fact["clicks"], fact["cost_micros"],
                                   round(fact["conversions"] * 100))):
            series[k][i] += value
    sums = {}
    for cid, series in daily.items():
        prefixes = []
        for values in series:
            prefix = [0]
            for v in values:
                prefix.append(prefix[-1] + v)
            prefixes.append(prefix)
        sums[cid] = prefixes
    return _AdsIndex(world=world, dates=dates, sums=sums, present=present)


def _flat_rows(query: Query, idx: _AdsIndex, customer_id: str) -> list[dict[str, Any]]:
    """Rows as {gaql field: python value}, filtered, ordered and limited."""
    today = date.fromisoformat(idx.dates[-1]) + timedelta(days=1) if idx.dates else date.today()
    lo, hi = date_bounds(query, today)
    if "segments.date" in query.select and (lo is None or hi is None):
        raise GaqlError("EXPECTED_FILTERS_ON_DATE_RANGE",
                        "With segments.date selected, WHERE must bound it to a finite date range.")
    start = 0 if lo is None else bisect.bisect_left(idx.dates, lo.isoformat())
    stop = len(idx.dates) if hi is None else bisect.bisect_right(idx.dates, hi.isoformat())
    campaign_conds = [c for c in query.where if c.field.startswith("campaign.")]
    metric_conds = [c for c in query.where if c.field.startswith("metrics.")]
    per_day = "segments.date" in query.select
    rows: list[dict[str, Any]] = []
    for camp in idx.world.ads_campaigns:
        base = {"campaign.resource_name": f"customers/{customer_id}/campaigns/{camp['id']}",
                "campaign.id": int(camp["id"]), "campaign.name": camp["name"],
                "campaign.status": camp["status"],
                "campaign.advertising_channel_type": camp.get("advertisingChannelType", "UNSPECIFIED")}
        if not all(holds(base[c.field], c) for c in campaign_conds):
            continue
        sums = idx.sums.get(camp["id"])
        if sums is None:
            continue
        spans = ([(i, i + 1) for i in range(start, stop) if idx.present[camp["id"]][i]] if per_day
                 else [(start, max(start, stop))])
        for a, b in spans:
            imp, clicks, cost, conv = (s[b] - s[a] for s in sums)
            row = {**base, "metrics.impressions": imp, "metrics.clicks": clicks, "metrics.cost_micros": cost,
                   "metrics.conversions": conv / 100, "metrics.ctr": clicks / imp if imp else 0.0}
            if per_day:
                row["segments.date"] = idx.dates[a]
            if all(holds(row[c.field], c) for c in metric_conds):
                rows.append(row)
    for name, descending in reversed(query.order_by):  # stable sorts, last key first
        rows.sort(key=operator.itemgetter(name), reverse=descending)
    return rows if query.limit is None else rows[:query.limit]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _wire_rows(rows: list[dict[str, Any]], select: list[str]) -> list[dict[str, Any]]:
    out = []
    for flat in rows:
        wire: dict[str, Any] = {"campaign": {"resourceName": flat["campaign.resource_name"]}}
        for name in select:
            resource, attr = name.split(".", 1)
            value = flat[name]
            wire.setdefault(resource, {})[_camel(attr)] = str(value) if FIELDS[name] == "int64" else value
        out.append(wire)
    return out


def _field_mask(select: list[str]) -> str:
    return ",".join(f"{n.split('.', 1)[0]}.{_camel(n.split('.', 1)[1])}" for n in select)


def _page_token(offset: int, query: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{zlib.crc32(query.encode())}".encode()).decode()


def _read_page_token(token: str, query: str) -> int | None:
    try:
        offset, _, check = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return int(offset) if check == str(zlib.crc32(query.encode())) else None
    except ValueError:
        return None


# (parsed query, wire rows, request body, request id) for a request that passed every check
Answer = tuple[Query, list[dict[str, Any]], dict[str, Any], str]


def build_router(state: SimulatorState) -> APIRouter:
    router = APIRouter(dependencies=[Depends(state.tracked(SOURCE))])
    cache: dict[str, _AdsIndex] = {}

    def index() -> _AdsIndex:
        current = cache.get("index")
        if current is None or current.world is not state.world:
            current = cache["index"] = _build_index(state.world)
        return current

    def throttled(customer_id: str) -> float | None:
        """Seconds until the customer's bucket has a token again, or None when this request may pass."""
        if not state.config.rate_limits:
            return None
        buckets: dict[str, list[float]] = state.throttles.setdefault(SOURCE, {})
        now = time.monotonic()
        tokens, stamp = buckets.get(customer_id, [QPS, now])
        tokens = min(QPS, tokens + (now - stamp) * QPS)
        if tokens < 1.0:
            buckets[customer_id] = [tokens, now]
            return (1.0 - tokens) / QPS
        buckets[customer_id] = [tokens - 1.0, now]
        return None

    def admit(version: str, customer_id: str, request: Request, rid: str) -> Response | None:
        """Version, credentials, customer and the QPS bucket: the refusal, or None to go on."""
        if not (version.startswith("v") and version[1:].isdigit()) or int(version[1:]) > 26:
            return envelope(404, "Method not found.", rid=rid)
        if version not in LIVE_VERSIONS:
            return envelope(400, errors=[{"errorCode": {"requestError": "UNSUPPORTED_VERSION"},
                                          "message": f"Version {version} is deprecated. Requests to this "
                                                     "version will be blocked."}], version=version, rid=rid)
        creds = state.config.credentials
        if request.headers.get("authorization") != f"Bearer {creds['googleads_token']}":
            return envelope(401, rid=rid)
        if request.headers.get("developer-token") != creds["googleads_developer_token"]:
            return envelope(401, errors=[{"errorCode": {"authenticationError": "DEVELOPER_TOKEN_INVALID"},
                                          "message": "The developer token is not valid."}],
                            version=version, rid=rid)
        if not customer_id.isdigit():
            return envelope(400, errors=[{"errorCode": {"requestError": "INVALID_CUSTOMER_ID"},
                                          "message": "The customer ID is not a valid number."}],
                            version=version, rid=rid)
        if customer_id != creds["googleads_customer_id"]:
            return envelope(403, errors=[{"errorCode": {"authorizationError": "USER_PERMISSION_DENIED"},
                                          "message": "User doesn't have permission to access customer. Note: "
                                                     "If you're accessing a client customer, the manager's "
                                                     "customer id must be set in the 'login-customer-id' "
                                                     "header."}], version=version, rid=rid)
        if (wait := throttled(customer_id)) is not None:
            delay = f"{max(wait, 0.001):.3f}s"
            return envelope(429, errors=[{
                "errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
                "message": f"Too many requests. Retry in {delay[:-1]} seconds.",
                "details": {"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "Requests per customer",
                                                  "retryDelay": delay}}}], version=version, rid=rid)
        return None

    async def run(version: str, customer_id: str, request: Request) -> Answer | Response:
        rid = request_id()
        if (refusal := admit(version, customer_id, request, rid)) is not None:
            return refusal
        try:
            body = await request.json()
        except ValueError:
            return envelope(400, "Invalid JSON payload received.", rid=rid)
        text = body.get("query") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _query_error(GaqlError("UNEXPECTED_END_OF_QUERY", "The query is empty."), version, rid)
        try:
            query = parse_query(text)
            rows = _wire_rows(_flat_rows(query, index(), customer_id), query.select)
        except GaqlError as exc:
            return _query_error(exc, version, rid)
        return query, rows, body, rid

    @router.post("/{version}/customers/{customer_id}/googleAds:searchStream")
    async def search_stream(version: str, customer_id: str, request: Request) -> Response:
        outcome = await run(version, customer_id, request)
        if isinstance(outcome, Response):
            return outcome
        query, rows, _, rid = outcome
        mask = _field_mask(query.select)
        batches: list[dict[str, Any]] = [
            {"results": rows[i:i + PAGE_SIZE], "fieldMask": mask, "requestId": rid}
            for i in range(0, len(rows), PAGE_SIZE)]
        return JSONResponse(batches or [{"fieldMask": mask, "requestId": rid}], headers={"request-id": rid})

    @router.post("/{version}/customers/{customer_id}/googleAds:search")
    async def search(version: str, customer_id: str, request: Request) -> Response:
        outcome = await run(version, customer_id, request)
        if isinstance(outcome, Response):
            return outcome
        query, rows, body, rid = outcome
        offset = 0
        if token := body.get("pageToken"):
            found = _read_page_token(str(token), body["query"])
            if found is None:
                return envelope(400, errors=[{"errorCode": {"requestError": "INVALID_PAGE_TOKEN"},
                                              "message": "Page token is invalid."}], version=version, rid=rid)
            offset = found
        page: dict[str, Any] = {"fieldMask": _field_mask(query.select)}
        if chunk := rows[offset:offset + PAGE_SIZE]:
            page["results"] = chunk
        if offset + PAGE_SIZE < len(rows):
            page["nextPageToken"] = _page_token(offset + PAGE_SIZE, body["query"])
        if body.get("returnTotalResultsCount"):
            page["totalResultsCount"] = str(len(rows))
        return JSONResponse(page, headers={"request-id": rid})

    googleads_writes.add_write_routes(router, state, admit)
    return router
