"""The GA4 Data API v1beta simulator: runReport, batchRunReports and metadata over the seeded facts.

    POST /ga4/v1beta/properties/123456789:runReport      Authorization: Bearer ya29.demo-ga4-token
    {"dateRanges":[{"startDate":"30daysAgo","endDate":"yesterday"}],
     "dimensions":[{"name":"sessionCampaignName"}],"metrics":[{"name":"sessions"}],"limit":"100"}

``world.ga4_rows`` (one fact per date x campaign x device) is indexed once per world, by date and
by lower-cased campaign name, so a date range or an ``inListFilter``/``EXACT`` filter on
``sessionCampaignName`` narrows the scan before anything is aggregated. Relative dates count back
from the last day of data, which plays "today". Quotas are GA4's current Standard-property ones,
echoed through ``propertyQuota``; GA4 sends no rate-limit headers.
"""

from __future__ import annotations

import bisect
import re
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from harmonia.simulators.core import SimulatorState
from harmonia.simulators.data import ANALYTICS_DAYS, ANALYTICS_START, World

SOURCE = "ga4"
LAST_DAY = ANALYTICS_START + timedelta(days=ANALYTICS_DAYS - 1)  # the simulator's "today"
CONCURRENT = 10
PACIFIC = ZoneInfo("America/Los_Angeles")  # Google's daily quotas refresh at midnight Pacific time
MAX_DATE_RANGES, MAX_DIMENSIONS, MAX_METRICS, MAX_BATCH = 4, 9, 10, 5
DEFAULT_LIMIT, MAX_LIMIT = 10_000, 250_000
SCHEMA_HINT = ("For a list of valid dimensions and metrics, see "
               "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema")
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

# Position of each dimension in a fact's value tuple; the derived ones are computed at index time.
DIMENSIONS = ("date", "sessionCampaignName", "sessionSource", "sessionMedium", "sessionSourceMedium",
              "deviceCategory", "country", "month", "yearMonth", "week", "dayOfWeek")
DIM_INDEX = {name: i for i, name in enumerate(DIMENSIONS)}
CAMPAIGN = DIM_INDEX["sessionCampaignName"]
# A fact's metric sums, in this order; revenue is kept in cents so totals stay exact.
BASE = ("sessions", "totalUsers", "newUsers", "screenPageViews", "engagedSessions", "conversions",
        "totalRevenue")
S, U, NU, PV, ES, CV, REV = range(len(BASE))

Sums = list[int]
Number = int | float


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


@dataclass(frozen=True)
class MetricSpec:
    type: str
    needs: tuple[int, ...]
    value: Callable[[Sums], Number]


METRICS: dict[str, MetricSpec] = {
    "sessions": MetricSpec("TYPE_INTEGER", (S,), lambda s: s[S]),
    "totalUsers": MetricSpec("TYPE_INTEGER", (U,), lambda s: s[U]),
    "newUsers": MetricSpec("TYPE_INTEGER", (NU,), lambda s: s[NU]),
    "screenPageViews": MetricSpec("TYPE_INTEGER", (PV,), lambda s: s[PV]),
    "engagedSessions": MetricSpec("TYPE_INTEGER", (ES,), lambda s: s[ES]),
    "conversions": MetricSpec("TYPE_FLOAT", (CV,), lambda s: s[CV]),
    "totalRevenue": MetricSpec("TYPE_CURRENCY", (REV,), lambda s: s[REV] / 100),
    "engagementRate": MetricSpec("TYPE_FLOAT", (S, ES), lambda s: _ratio(s[ES], s[S])),
    "bounceRate": MetricSpec("TYPE_FLOAT", (S, ES), lambda s: _ratio(s[S] - s[ES], s[S])),
    "sessionsPerUser": MetricSpec("TYPE_FLOAT", (S, U), lambda s: _ratio(s[S], s[U])),
}

Fact = tuple[tuple[str, ...], tuple[int, ...]]


class Invalid(Exception):
    """A request GA4 would refuse with 400 INVALID_ARGUMENT; the message is GA4-like."""


class FactIndex:
    """The facts of one world, sorted by date, plus a per-campaign view for filtered reports."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        calendar: dict[str, tuple[str, str, str, str]] = {}
        facts: list[Fact] = []
        for row in sorted(rows, key=itemgetter("date")):
            d = row["date"]
            if d not in calendar:
                calendar[d] = _calendar(d)
            month, year_month, week, weekday = calendar[d]
            source, medium = row["sessionSource"], row["sessionMedium"]
            dims = (d, row["sessionCampaignName"], source, medium, f"{source} / {medium}",
                    row["deviceCategory"], row["country"], month, year_month, week, weekday)
            base = (*(int(row[m]) for m in BASE[:-1]), round(row["totalRevenue"] * 100))
            facts.append((dims, base))
        self.dates = [f[0][0] for f in facts]
        self.facts = facts
        self.by_campaign: dict[str, tuple[list[str], list[Fact]]] = {}
        for fact in facts:
            dates, group = self.by_campaign.setdefault(fact[0][CAMPAIGN].lower(), ([], []))
            dates.append(fact[0][0])
            group.append(fact)

    def candidates(self, start: str, end: str, campaigns: set[str] | None) -> list[Fact]:
        if campaigns is None:
            return self.facts[bisect.bisect_left(self.dates, start):bisect.bisect_right(self.dates, end)]
        out: list[Fact] = []
        for name in sorted(campaigns):
            if (entry := self.by_campaign.get(name)) is not None:
                dates, group = entry
                out.extend(group[bisect.bisect_left(dates, start):bisect.bisect_right(dates, end)])
        return out


def _calendar(yyyymmdd: str) -> tuple[str, str, str, str]:
    d = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    sunday_first = (d.weekday() + 1) % 7
    jan1 = (date(d.year, 1, 1).weekday() + 1) % 7
    # GA4 weeks start on Sunday and January 1st is always in week 01.
    week = (d.timetuple().tm_yday - 1 + jan1) // 7 + 1
    return f"{d.month:02d}", yyyymmdd[:6], f"{week:02d}", str(sunday_first)


_INDEXES: dict[int, tuple[weakref.ref[World], FactIndex]] = {}


def fact_index(world: World) -> FactIndex:
    """The index for ``world``, built on first use and dropped with the world."""
    key = id(world)
    entry = _INDEXES.get(key)
    if entry is not None and entry[0]() is world:
        return entry[1]
    index = FactIndex(world.ga4_rows)
    _INDEXES[key] = (weakref.ref(world, lambda _ref: _INDEXES.pop(key, None)), index)
    return index


@dataclass
class PropertyQuota:
    """Token buckets of the one simulated property: fixed windows, the hour's (UTC, which is also
    Pacific's: a whole-hour offset) and the Pacific day's, as Google refreshes them."""

    tokens_per_hour: int = 40_000
    tokens_per_day: int = 200_000
    tokens_per_project_per_hour: int = 14_000
    enforced: bool = True  # False (``--no-rate-limits``): nothing is used up, so every answer shows a full quota
    hour: int = -1
    hour_used: int = 0
    day: date | None = None
    day_used: int = 0
    in_flight: int = 0
    concurrent: int = CONCURRENT  # 10 on a Standard property, 50 on Analytics 360
    peak_in_flight: int = 0       # the most requests ever in flight at once (tests of pacing)

    def roll(self) -> None:
        now = time.time()
        if int(now) // 3600 != self.hour:
            self.hour, self.hour_used = int(now) // 3600, 0
        today = datetime.fromtimestamp(now, PACIFIC).date()
        if today != self.day:
            self.day, self.day_used = today, 0

    def exhausted(self) -> str | None:
        self.roll()
        if self.in_flight > self.concurrent:  # in_flight counts the request asking
            return "Exhausted concurrent requests quota for this property."
        if self.hour_used >= self.tokens_per_hour:
            return "Exhausted property tokens per hour. Quota refreshes at the start of the next hour."
        if self.hour_used >= self.tokens_per_project_per_hour:
            return "Exhausted property tokens per project per hour. Quota refreshes at the start of the next hour."
        if self.day_used >= self.tokens_per_day:
            return "Exhausted property tokens per day. Quota refreshes at midnight Pacific Time."
        return None

    def charge(self, tokens: int) -> dict[str, Any]:
        self.roll()
        if self.enforced:
            self.hour_used += tokens
            self.day_used += tokens
        hour_used, day_used = (self.hour_used, self.day_used) if self.enforced else (tokens, tokens)

        def pair(consumed: int, remaining: int) -> dict[str, int]:
            return {"consumed": consumed, "remaining": max(0, remaining)}

        return {"tokensPerDay": pair(tokens, self.tokens_per_day - day_used),
                "tokensPerHour": pair(tokens, self.tokens_per_hour - hour_used),
                # What the other requests in flight leave (a lone request sees all 10: "consumed 0").
                "concurrentRequests": pair(0, self.concurrent - (self.in_flight - 1)),
                "serverErrorsPerProjectPerHour": pair(0, 10),
                "potentiallyThresholdedRequestsPerHour": pair(0, 120),
                "tokensPerProjectPerHour": pair(tokens, self.tokens_per_project_per_hour - hour_used)}


def property_quota(state: SimulatorState) -> PropertyQuota:
    quota = state.throttles.get(SOURCE)
    if not isinstance(quota, PropertyQuota):
        c = state.config
        quota = state.throttles[SOURCE] = PropertyQuota(c.ga4_tokens_per_hour, c.ga4_tokens_per_day,
                                                        c.ga4_tokens_per_project_per_hour, c.rate_limits,
                                                        concurrent=c.ga4_concurrent_requests)
    return quota


# --- request parsing -----------------------------------------------------------------------------

_DAYS_AGO = re.compile(r"(\d+)daysAgo")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(text: Any) -> date:
    """GA4's date forms, relative ones counted back from the last day of data."""
    if text == "today":
        return LAST_DAY
    if text == "yesterday":
        return LAST_DAY - timedelta(days=1)
    if isinstance(text, str) and (m := _DAYS_AGO.fullmatch(text)):
        return LAST_DAY - timedelta(days=int(m.group(1)))
    if isinstance(text, str) and _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise Invalid(f"Invalid date: {text}. Dates must be YYYY-MM-DD, NdaysAgo, yesterday, or today.")


def _int64(value: Any, default: int, name: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(f"Invalid value at '{name}' (TYPE_INT64), {value}")
    try:
        return int(value)
    except ValueError:
        raise Invalid(f'Invalid value at \'{name}\' (TYPE_INT64), "{value}"') from None


def _names(items: Any, key: str, what: str, maximum: int) -> list[str]:
    if not isinstance(items, list):
        raise Invalid(f"Invalid value at '{what}': expected a list.")
    if len(items) > maximum:
        raise Invalid(f"Requests are limited to {maximum} {what} within a request. "
                      f"This request contains {len(items)} {what}.")
    names: list[str] = []
    for item in items:
        name = item.get(key) if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise Invalid(f"Each item in '{what}' needs a '{key}'.")
        names.append(name)
    if len(set(names)) != len(names):
        raise Invalid(f"Duplicate names in '{what}' are not allowed.")
    return names


def _compile(expr: Any, field: Callable[[str], Callable[[Any], Any]]) -> Callable[[Any], bool]:
    """A FilterExpression as a predicate; ``field`` turns a fieldName into a value getter."""
    if not isinstance(expr, dict) or len(expr) != 1:
        raise Invalid("A FilterExpression must set exactly one of andGroup, orGroup, notExpression, filter.")
    (kind, body), = expr.items()
    if kind in ("andGroup", "orGroup"):
        parts = [_compile(e, field) for e in (body or {}).get("expressions", [])]
        if kind == "andGroup":
            return lambda item: all(p(item) for p in parts)
        return lambda item: any(p(item) for p in parts)
    if kind == "notExpression":
        inner = _compile(body, field)
        return lambda item: not inner(item)
    if kind != "filter" or not isinstance(body, dict):
        raise Invalid(f"Unknown filter expression '{kind}'.")
    get = field(str(body.get("fieldName")))
    test = _filter_test(body)
    return lambda item: test(get(item))


def _filter_test(body: dict[str, Any]) -> Callable[[Any], bool]:
    if (sf := body.get("stringFilter")) is not None:
        match, value = sf.get("matchType", "EXACT"), str(sf.get("value", ""))
        case = bool(sf.get("caseSensitive", False))
        fold: Callable[[str], str] = (lambda s: s) if case else str.lower
        want = fold(value)
        if match in ("FULL_REGEXP", "PARTIAL_REGEXP"):
            try:
                pattern = re.compile(value, 0 if case else re.IGNORECASE)
            except re.error:
                raise Invalid(f"Invalid regular expression: {value}") from None
            run = pattern.fullmatch if match == "FULL_REGEXP" else pattern.search
            return lambda v: run(str(v)) is not None
        tests: dict[str, Callable[[str], bool]] = {
            "EXACT": lambda v: v == want, "BEGINS_WITH": lambda v: v.startswith(want),
            "ENDS_WITH": lambda v: v.endswith(want), "CONTAINS": lambda v: want in v,
            "MATCH_TYPE_UNSPECIFIED": lambda v: v == want}
        if match not in tests:
            raise Invalid(f"Unknown stringFilter matchType {match}.")
        string_test = tests[match]
        return lambda v: string_test(fold(str(v)))
    if (lf := body.get("inListFilter")) is not None:
        case = bool(lf.get("caseSensitive", False))
        values = {str(v) if case else str(v).lower() for v in lf.get("values", [])}
        return (lambda v: str(v) in values) if case else (lambda v: str(v).lower() in values)
    if (nf := body.get("numericFilter")) is not None:
        target = _number(nf.get("value"))
        compare: dict[str, Callable[[float], bool]] = {
            "EQUAL": lambda x: x == target, "LESS_THAN": lambda x: x < target,
            "LESS_THAN_OR_EQUAL": lambda x: x <= target, "GREATER_THAN": lambda x: x > target,
            "GREATER_THAN_OR_EQUAL": lambda x: x >= target}
        op = nf.get("operation")
        if op not in compare:
            raise Invalid(f"Unknown numericFilter operation {op}.")
        return lambda v: (x := _as_float(v)) is not None and compare[op](x)
    if (bf := body.get("betweenFilter")) is not None:
        low, high = _number(bf.get("fromValue")), _number(bf.get("toValue"))
        return lambda v: (x := _as_float(v)) is not None and low <= x <= high
    raise Invalid("A filter must set stringFilter, inListFilter, numericFilter or betweenFilter.")


def _number(value: Any) -> float:
    if isinstance(value, dict):
        raw = value.get("int64Value", value.get("doubleValue"))
        if (x := _as_float(raw)) is not None:
            return x
    raise Invalid(f"Invalid NumericValue: {value}")


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _campaign_scope(expr: Any) -> set[str] | None:
    """Lower-cased campaign names any matching fact must have, or None when unconstrained."""
    if not isinstance(expr, dict):
        return None
    if (group := expr.get("andGroup")) is not None:
        scopes = [s for e in group.get("expressions", []) if (s := _campaign_scope(e)) is not None]
        return set.intersection(*scopes) if scopes else None
    if (group := expr.get("orGroup")) is not None:
        parts = [_campaign_scope(e) for e in group.get("expressions", [])]
        if not parts or any(p is None for p in parts):
            return None
        return set().union(*(p for p in parts if p is not None))
    body = expr.get("filter")
    if not isinstance(body, dict) or body.get("fieldName") != "sessionCampaignName":
        return None
    if isinstance(lf := body.get("inListFilter"), dict):
        return {str(v).lower() for v in lf.get("values", [])}
    sf = body.get("stringFilter")
    if isinstance(sf, dict) and sf.get("matchType", "EXACT") == "EXACT":
        return {str(sf.get("value", "")).lower()}
    return None


# --- the report ----------------------------------------------------------------------------------

def _format(value: Number) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int) else repr(value)


def _dimension_field(name: str) -> Callable[[Any], Any]:
    if name not in DIM_INDEX:
        raise Invalid(f"Field {name} is not a valid dimension. {SCHEMA_HINT}")
    return itemgetter(DIM_INDEX[name])


def run_report(index: FactIndex, body: Any) -> tuple[dict[str, Any], int]:
    """One RunReportResponse (without propertyQuota) and the tokens it costs."""
    if not isinstance(body, dict):
        raise Invalid("Invalid JSON payload received. Expected an object.")
    ranges = body.get("dateRanges") or []
    if not isinstance(ranges, list) or not ranges:
        raise Invalid("At least one dateRange is required.")
    if len(ranges) > MAX_DATE_RANGES:
        raise Invalid(f"Requests are limited to {MAX_DATE_RANGES} dateRanges within a request. "
                      f"This request contains {len(ranges)} dateRanges.")
    spans: list[tuple[str, str, str]] = []
    for i, r in enumerate(ranges):
        if not isinstance(r, dict):
            raise Invalid("Each dateRange needs a startDate and an endDate.")
        first, last = parse_date(r.get("startDate")), parse_date(r.get("endDate"))
        if first > last:
            raise Invalid(f"The dateRange startDate {first} is after its endDate {last}.")
        label = str(r.get("name") or f"date_range_{i}")
        spans.append((label, first.strftime("%Y%m%d"), last.strftime("%Y%m%d")))
    dims = _names(body.get("dimensions", []), "name", "dimensions", MAX_DIMENSIONS)
    metrics = _names(body.get("metrics", []), "name", "metrics", MAX_METRICS)
    multi = len(spans) > 1
    if multi and "dateRange" not in dims:
        dims.append("dateRange")  # GA4 adds it itself when several ranges are asked for
    fact_dims = [d for d in dims if d != "dateRange"]
    if "dateRange" in dims and not multi:
        raise Invalid(f"Field dateRange is not a valid dimension for a single dateRange. {SCHEMA_HINT}")
    for name in fact_dims:
        _dimension_field(name)  # refuses unknown names
    key_of = _key_function([DIM_INDEX[d] for d in fact_dims])
    for name in metrics:
        if name not in METRICS:
            raise Invalid(f"Field {name} is not a valid metric. {SCHEMA_HINT}")
    limit = _int64(body.get("limit"), DEFAULT_LIMIT, "limit")
    offset = _int64(body.get("offset"), 0, "offset")
    if limit <= 0 or offset < 0:
        raise Invalid("limit must be positive and offset must not be negative.")
    limit = min(limit, MAX_LIMIT)
    specs = [METRICS[m] for m in metrics]

    dim_filter = body.get("dimensionFilter")
    keep = _compile(dim_filter, _dimension_field) if dim_filter is not None else None
    metric_needs = {i for spec in specs for i in spec.needs}

    def metric_field(name: str) -> Callable[[Any], Any]:
        if name not in METRICS:
            raise Invalid(f"Field {name} is not a valid metric. {SCHEMA_HINT}")
        metric_needs.update(METRICS[name].needs)
        return METRICS[name].value

    metric_filter = body.get("metricFilter")
    passes = _compile(metric_filter, metric_field) if metric_filter is not None else None
    needs = sorted(metric_needs)
    scope = _campaign_scope(dim_filter)

    # Aggregate: key = requested dimension values (+ the range name), value = the metric sums.
    groups: dict[tuple[str, ...], Sums] = {}
    scanned = 0
    for name, start, end in spans:
        tail = (name,) if multi else ()
        for dims_values, base in index.candidates(start, end, scope):
            scanned += 1
            if keep is not None and not keep(dims_values):
                continue
            key = key_of(dims_values) + tail
            sums = groups.get(key)
            if sums is None:
                groups[key] = sums = [0] * len(BASE)
            for i in needs:
                sums[i] += base[i]

    rows = [(key, sums, [spec.value(sums) for spec in specs]) for key, sums in groups.items()]
    if not body.get("keepEmptyRows") and specs:
        rows = [r for r in rows if any(r[2])]
    if passes is not None:
        rows = [r for r in rows if passes(r[1])]
    _order(rows, body.get("orderBys") or [], dims, metrics)

    response: dict[str, Any] = {}
    if dims:
        response["dimensionHeaders"] = [{"name": d} for d in dims]
    if metrics:
        response["metricHeaders"] = [{"name": m, "type": METRICS[m].type} for m in metrics]
    page = rows[offset:offset + limit]
    if page:
        response["rows"] = [_row(key, values) for key, _, values in page]
    if rows:
        response["rowCount"] = len(rows)
    response.update(_aggregations(body.get("metricAggregations") or [], rows, specs, dims, spans, multi))
    response["metadata"] = {"currencyCode": "USD", "timeZone": "America/New_York"}
    response["kind"] = "analyticsData#runReport"
    return response, 1 + len(page) // 1000 + scanned // 10_000


def _key_function(positions: list[int]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    if len(positions) > 1:
        return itemgetter(*positions)  # already a tuple: the fastest way to build group keys
    if positions:
        only = positions[0]
        return lambda values: (values[only],)
    return lambda values: ()


def _row(key: tuple[str, ...], values: list[Number]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    if key:
        row["dimensionValues"] = [{"value": v} for v in key]
    if values:
        row["metricValues"] = [{"value": _format(v)} for v in values]
    return row


Row = tuple[tuple[str, ...], Sums, list[Number]]


def _order(rows: list[Row], order_bys: Any, dims: list[str], metrics: list[str]) -> None:
    rows.sort(key=itemgetter(0))  # a stable base so pages never overlap
    if not order_bys:
        if metrics:
            rows.sort(key=lambda r: r[2][0], reverse=True)
        return
    if not isinstance(order_bys, list):
        raise Invalid("orderBys must be a list.")
    for order in reversed(order_bys):  # stable sorts, last key first
        desc = bool(order.get("desc", False))
        if (dim := order.get("dimension")) is not None:
            name = dim.get("dimensionName")
            if name not in dims:
                raise Invalid(f"orderBys dimension {name} must be one of the request's dimensions.")
            i, kind = dims.index(name), dim.get("orderType", "ALPHANUMERIC")
            if kind == "NUMERIC":
                rows.sort(key=lambda r: _as_float(r[0][i]) or 0.0, reverse=desc)
            elif kind == "CASE_INSENSITIVE_ALPHANUMERIC":
                rows.sort(key=lambda r: r[0][i].lower(), reverse=desc)
            else:
                rows.sort(key=lambda r: r[0][i], reverse=desc)
        elif (metric := order.get("metric")) is not None:
            name = metric.get("metricName")
            if name not in metrics:
                raise Invalid(f"orderBys metric {name} must be one of the request's metrics.")
            j = metrics.index(name)
            rows.sort(key=lambda r: r[2][j], reverse=desc)
        else:
            raise Invalid("Each orderBy must set dimension or metric.")


def _aggregations(kinds: Any, rows: list[Row], specs: list[MetricSpec], dims: list[str],
                  spans: list[tuple[str, str, str]], multi: bool) -> dict[str, Any]:
    if not kinds or not specs:
        return {}
    wanted = {"TOTAL": ("totals", "RESERVED_TOTAL"), "MAXIMUM": ("maximums", "RESERVED_MAX"),
              "MINIMUM": ("minimums", "RESERVED_MIN"), "COUNT": ("totals", "RESERVED_COUNT")}
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in kinds:
        if kind not in wanted:
            raise Invalid(f"Unknown metricAggregation {kind}.")
        section, label = wanted[kind]
        for name, _, _ in spans:
            mine = [r for r in rows if not multi or r[0][-1] == name]
            key = tuple(name if multi and d == "dateRange" else label for d in dims)
            values: list[Number]
            if kind == "TOTAL":
                sums = [sum(r[1][i] for r in mine) for i in range(len(BASE))]
                values = [spec.value(sums) for spec in specs]
            elif kind == "COUNT":
                values = [len(mine)] * len(specs)
            else:
                pick = max if kind == "MAXIMUM" else min
                values = [pick((r[2][j] for r in mine), default=0) for j in range(len(specs))]
            out.setdefault(section, []).append(_row(key, values))
    return out


# --- HTTP ----------------------------------------------------------------------------------------

def render_error(status: int, message: str) -> Response:
    """Google's JSON error envelope, with the canonical status name for the HTTP code."""
    name = STATUS_NAMES.get(status, "UNKNOWN" if status >= 500 else "FAILED_PRECONDITION")
    return JSONResponse({"error": {"code": status, "message": message, "status": name}}, status_code=status)


def build_router(state: SimulatorState) -> APIRouter:
    async def occupy() -> AsyncIterator[None]:
        """A request holds a concurrency slot from arrival, the simulated latency included, to its answer."""
        quota = property_quota(state)
        quota.in_flight += 1
        quota.peak_in_flight = max(quota.peak_in_flight, quota.in_flight)
        try:
            yield
        finally:
            quota.in_flight -= 1

    router = APIRouter(dependencies=[Depends(occupy), Depends(state.tracked(SOURCE))])
    creds = state.config.credentials

    def refused(request: Request, property_id: str) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {creds.get('ga4_token')}":
            response = render_error(401, "Request had invalid authentication credentials. Expected OAuth "
                                         "2 access token, login cookie or other valid authentication "
                                         "credential.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
            return response
        if property_id not in (creds.get("ga4_property_id"), "0"):
            return render_error(403, "User does not have sufficient permissions for this property. To learn "
                                     "more about Property ID, see https://developers.google.com/analytics/"
                                     "devguides/reporting/data/v1/property-id.")
        return None

    async def serve(request: Request, property_id: str, batch: bool) -> Response:
        if (response := refused(request, property_id)) is not None:
            return response
        quota = property_quota(state)
        if state.config.rate_limits and (why := quota.exhausted()) is not None:
            return render_error(429, why)
        try:
            body = await request.json()
            index = fact_index(state.world)
            if not batch:
                report, tokens = run_report(index, body)
                if isinstance(body, dict) and body.get("returnPropertyQuota"):
                    report["propertyQuota"] = quota.charge(tokens)
                else:
                    quota.charge(tokens)
                return JSONResponse(report)
            requests = body.get("requests") if isinstance(body, dict) else None
            if not isinstance(requests, list) or not requests:
                raise Invalid("batchRunReports needs a non-empty 'requests' list.")
            if len(requests) > MAX_BATCH:
                raise Invalid(f"Requests are limited to {MAX_BATCH} reports within a batch. "
                              f"This request contains {len(requests)} reports.")
            reports = []
            for sub in requests:
                report, tokens = run_report(index, sub)
                usage = quota.charge(tokens)
                if sub.get("returnPropertyQuota"):
                    report["propertyQuota"] = usage
                reports.append(report)
            return JSONResponse({"kind": "analyticsData#batchRunReports", "reports": reports})
        except Invalid as exc:
            return render_error(400, str(exc))
        except (ValueError, TypeError, AttributeError):
            return render_error(400, "Invalid JSON payload received. The request body is not a valid "
                                     "RunReportRequest.")

    @router.post("/v1beta/properties/{property_id}:runReport")
    async def run_report_route(property_id: str, request: Request) -> Response:
        return await serve(request, property_id, batch=False)

    @router.post("/v1beta/properties/{property_id}:batchRunReports")
    async def batch_run_reports_route(property_id: str, request: Request) -> Response:
        return await serve(request, property_id, batch=True)

    @router.get("/v1beta/properties/{property_id}/metadata")
    async def metadata(property_id: str, request: Request) -> Response:
        if (response := refused(request, property_id)) is not None:
            return response
        return JSONResponse({
            "name": f"properties/{property_id}/metadata",
            "dimensions": [{"apiName": d, "uiName": d, "description": f"The {d} dimension.",
                            "category": "Traffic source" if d.startswith("session") else "Time"}
                           for d in DIMENSIONS],
            "metrics": [{"apiName": m, "uiName": m, "description": f"The {m} metric.", "type": spec.type,
                         "category": "Session"} for m, spec in METRICS.items()],
        })

    @router.api_route("/v1beta/{rest:path}", methods=["GET", "POST"])
    async def unknown(rest: str) -> Response:
        return render_error(404, f"Method not found: {rest}")

    return router
