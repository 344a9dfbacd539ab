"""Google Analytics 4 (Data API v1beta): reports and per-campaign traffic summaries for one property.

    ga4 = GA4Property.from_settings(settings.sources.ga4)
    report = await ga4.run_report(ReportRequest("30daysAgo", "yesterday", ("date",), ("sessions",)))
    by_name = await ga4.campaign_summaries(["Spring sale 2024"], "2026-01-01", "2026-01-31")
    by_name["Spring sale 2024"]["sessions"]        # "1234": values stay GA4's strings

Every request asks for ``propertyQuota`` (``returnPropertyQuota: true``): GA4 has no rate-limit headers,
and what it says is left of the property's tokens feeds ``PropertyQuotaMeter``, which stops the calls
(``UPSTREAM_RATE_LIMITED``) before GA4 would answer 429 and until the quota refreshes; what it says
of ``concurrentRequests`` sets how many reports run at once (the configured 10 is only the start).

A ``ReportRequest`` with ``limit=None`` means "every row": the first page tells ``rowCount`` and
the remaining pages are fetched concurrently (the pacer keeps GA4's 10-concurrent-request quota).
Rows are ordered by the requested dimensions so pages never overlap, and ``limit``/``offset`` are
always sent as int64 strings, as the discovery document types them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import httpx

from harmonia.credentials import Credential, credential_for
from harmonia.errors import BadUserInput, UpstreamError, UpstreamUnavailable
from harmonia.settings import GA4Settings
from harmonia.sources._http import SourceHttp, build_client, read_json
from harmonia.sources.ga4_quota import PropertyQuotaMeter
from harmonia.sources.pacing import ConcurrencyPacer
from harmonia.sources.records import MetricHeader, Report, ReportRequest, ReportRow

SOURCE = "ga4"
PAGE_SIZE = 10_000
SUMMARY_METRICS = ("sessions", "totalUsers", "newUsers", "conversions", "totalRevenue", "engagementRate")


class GA4Property:
    """One GA4 property, read through ``runReport`` and ``batchRunReports``."""

    BATCH_MAX = 5  # GA4 refuses a batchRunReports with more requests than this

    def __init__(self, http: SourceHttp, property_id: str, *, page_size: int = PAGE_SIZE,
                 quota: PropertyQuotaMeter | None = None, api_version: str = "v1beta") -> None:
        self.http = http
        self.property_id = property_id
        self.api_version = api_version
        self.page_size = page_size
        self.quota = quota or PropertyQuotaMeter()
        http.on_rate_limited = self._rate_limited

    @classmethod
    def from_settings(
        cls,
        settings: GA4Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        page_size: int = PAGE_SIZE,
        credential: Credential | None = None,
    ) -> GA4Property:
        client = build_client(settings, transport=transport)
        credential = credential or credential_for(SOURCE, settings, transport=transport)
        http = SourceHttp(SOURCE, client, pacer=ConcurrencyPacer(settings.max_concurrency, free_slots=free_slots),
                          max_retries=settings.max_retries, credential=credential)
        return cls(http, settings.property_id, page_size=page_size,
                   quota=PropertyQuotaMeter(settings.quota_headroom), api_version=settings.api_version)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def run_report(self, request: ReportRequest) -> Report:
        """One report; with ``request.limit`` None, every row from ``request.offset`` on."""
        return await self._report(request, totals=True)

    async def batch_run_reports(self, requests: Sequence[ReportRequest]) -> list[Report]:
        """Reports in the order asked; identical requests are sent once, five per batch call."""
        unique = list(dict.fromkeys(requests))
        chunks = [unique[i:i + self.BATCH_MAX] for i in range(0, len(unique), self.BATCH_MAX)]
        answered = await asyncio.gather(*(self._batch(chunk) for chunk in chunks))
        by_request = {req: rep for chunk, reports in zip(chunks, answered, strict=True)
                      for req, rep in zip(chunk, reports, strict=True)}
        return [by_request[r] for r in requests]

    async def campaign_summaries(
        self,
        names: Sequence[str],
        start_date: str,
        end_date: str,
        metrics: Sequence[str] = SUMMARY_METRICS,
    ) -> dict[str, dict[str, str]]:
        """Campaign name -> metric -> GA4's value string, in one report; names without traffic are absent."""
        distinct = tuple(dict.fromkeys(n for n in names if n))
        if not distinct:
            return {}
        request = ReportRequest(start_date=start_date, end_date=end_date, dimensions=("sessionCampaignName",),
                                metrics=tuple(metrics), in_list_dimension="sessionCampaignName",
                                in_list_values=distinct)
        report = await self._report(request, totals=False)
        headers = [h.name for h in report.metric_headers]
        return {row.dimension_values[0]: dict(zip(headers, row.metric_values, strict=True))
                for row in report.rows}

    # --- internals ------------------------------------------------------------------------------

    async def _report(self, request: ReportRequest, *, totals: bool) -> Report:
        if request.in_list_dimension and not request.in_list_values:
            return _empty(request)  # nothing can match an empty list; GA4 would refuse it anyway
        body = self._body(request, request.offset, self._first_limit(request), totals)
        payload = await self._post("runReport", body, [request])
        return await self._remaining(request, _parse(payload))

    async def _batch(self, chunk: list[ReportRequest]) -> list[Report]:
        sent = [r for r in chunk if not (r.in_list_dimension and not r.in_list_values)]
        reports: dict[ReportRequest, Report] = {r: _empty(r) for r in chunk}
        if sent:
            body = {"requests": [self._body(r, r.offset, self._first_limit(r), True) for r in sent]}
            payload = await self._post("batchRunReports", body, sent)
            raw = payload.get("reports") if isinstance(payload, dict) else None
            if not isinstance(raw, list) or len(raw) != len(sent):
                raise UpstreamUnavailable(SOURCE, "ga4 answered a batch Harmonia could not read")
            firsts = [_parse(p) for p in raw]
            completed = await asyncio.gather(*(self._remaining(request, first)
                                               for request, first in zip(sent, firsts, strict=True)))
            reports.update(zip(sent, completed, strict=True))
        return [reports[r] for r in chunk]

    def _first_limit(self, request: ReportRequest) -> int:
        return request.limit if request.limit is not None else self.page_size

    async def _remaining(self, request: ReportRequest, first: Report) -> Report:
        """The first page plus, for limit=None, every later page (offset += page size while < rowCount)."""
        if request.limit is not None:
            return first
        offsets = range(request.offset + self.page_size, first.row_count, self.page_size)
        if not offsets:
            return first
        pages = await asyncio.gather(*(
            self._post("runReport", self._body(request, offset, self.page_size, False), [request])
            for offset in offsets))
        rows = first.rows + tuple(row for page in pages for row in _parse(page).rows)
        return replace(first, rows=rows)

    def _body(self, request: ReportRequest, offset: int, limit: int, totals: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "dateRanges": [{"startDate": request.start_date, "endDate": request.end_date}],
            "dimensions": [{"name": d} for d in request.dimensions],
            "metrics": [{"name": m} for m in request.metrics],
            # Dimension order makes pages disjoint and rows predictable across calls.
            "orderBys": [{"dimension": {"dimensionName": d}} for d in request.dimensions],
            "limit": str(limit),
            "offset": str(offset),
            "keepEmptyRows": False,
            "returnPropertyQuota": True,
        }
        if request.in_list_dimension:
            body["dimensionFilter"] = {"filter": {
                "fieldName": request.in_list_dimension,
                "inListFilter": {"values": list(request.in_list_values), "caseSensitive": True}}}
        if totals and request.metrics:
            body["metricAggregations"] = ["TOTAL"]
        return body

    async def _post(self, action: str, body: dict[str, Any], sent: Sequence[ReportRequest]) -> Any:
        await self.quota.check()  # a spent token quota: refused here, GA4 is not asked
        path = f"/{self.api_version}/properties/{self.property_id}:{action}"
        sent_at = self.quota.clock()
        response = await self.http.request("POST", path, json=body, idempotent=True, passthrough=(400,))
        if response.status_code == 400:
            raise _rejection(response, sent)
        try:
            payload = read_json(response)
        except ValueError:
            raise UpstreamUnavailable(SOURCE, "ga4 answered with a body Harmonia could not read") from None
        await self.quota.observe(_property_quotas(payload), sent_at)
        return payload

    async def _rate_limited(self, response: httpx.Response, sent_at: float) -> UpstreamError | None:
        """A 429 naming a spent token quota is not retried: the quota is marked until it refreshes."""
        try:
            message = str(read_json(response)["error"]["message"])
        except (ValueError, KeyError, TypeError):
            return None
        return await self.quota.exhausted_by(message, sent_at)


_FREE = re.compile(rb'"concurrentRequests"\s*:\s*\{[^}]*?"remaining"\s*:\s*(\d+)')


def free_slots(response: httpx.Response) -> int | None:
    """The concurrent requests GA4 says are free (the fewest, for a batch), read from the raw answer:
    the pacer learns it on release, before the connector parses the body."""
    found = [int(m.group(1)) for m in _FREE.finditer(response.content)] if response.status_code == 200 else []
    return min(found) if found else None


def _property_quotas(payload: Any) -> list[Any]:
    """The ``propertyQuota`` of a runReport answer, or of each report of a batch."""
    if not isinstance(payload, dict):
        return []
    reports = payload.get("reports")
    if isinstance(reports, list):
        return [r.get("propertyQuota") for r in reports if isinstance(r, dict)]
    return [payload.get("propertyQuota")]


def _rejection(response: httpx.Response, sent: Sequence[ReportRequest]) -> BadUserInput:
    """BadUserInput in our words: only names we sent are echoed, never GA4's own text."""
    try:
        upstream = str(read_json(response)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        upstream = ""
    ours = dict.fromkeys(n for r in sent for n in (*r.dimensions, *r.metrics))
    named = [n for n in ours if re.search(rf"\b{re.escape(n)}\b", upstream)]
    if named:
        return BadUserInput(f"GA4 rejected the report request: unknown or unsupported field(s) "
                            f"{', '.join(named)}", fields=named)
    return BadUserInput("GA4 rejected the report request: check its date range, dimensions and metrics")


def _parse(payload: Any) -> Report:
    try:
        meta = payload.get("metadata") or {}
        totals = payload.get("totals") or []
        return Report(
            dimension_headers=tuple(h["name"] for h in payload.get("dimensionHeaders", [])),
            metric_headers=tuple(MetricHeader(h["name"], h.get("type", "METRIC_TYPE_UNSPECIFIED"))
                                 for h in payload.get("metricHeaders", [])),
            rows=tuple(_row(r) for r in payload.get("rows", [])),
            # proto3 JSON leaves out a zero rowCount.
            row_count=int(payload.get("rowCount", 0)),
            currency_code=meta.get("currencyCode"),
            time_zone=meta.get("timeZone"),
            totals=_row(totals[0]).metric_values if totals else None,
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise UpstreamUnavailable(SOURCE, "ga4 answered a report Harmonia could not read") from None


def _row(raw: dict[str, Any]) -> ReportRow:
    return ReportRow(dimension_values=tuple(v.get("value", "") for v in raw.get("dimensionValues", [])),
                     metric_values=tuple(v.get("value", "") for v in raw.get("metricValues", [])))


def _empty(request: ReportRequest) -> Report:
    return Report(dimension_headers=request.dimensions,
                  metric_headers=tuple(MetricHeader(m, "METRIC_TYPE_UNSPECIFIED") for m in request.metrics),
                  rows=(), row_count=0)
