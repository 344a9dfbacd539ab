"""Google Ads API: campaigns and their metrics through ``googleAds:searchStream`` (GAQL).

    account = GoogleAdsAccount.from_settings(settings.sources.googleads)
    campaigns = await account.list_campaigns()                               # [AdsCampaign], by id
    metrics = await account.campaign_metrics(["111", "148"], "2026-01-01", "2026-01-31")
    metrics["111"].cost_micros                                               # int, summed over the range
    await account.aclose()

searchStream answers a JSON array of batches; int64 values arrive as strings. Errors arrive as
Google's envelope, either as the HTTP response or (for a stream that fails part-way, unverified)
as the last element of the array; both become ``harmonia.errors``. A 429's ``retryDelay`` (in the
``GoogleAdsFailure`` quota details) is what the retry waits.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import httpx

from harmonia.credentials import Credential, credential_for
from harmonia.errors import (
    BadUserInput,
    HarmoniaError,
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from harmonia.settings import GoogleAdsSettings
from harmonia.sources._http import SourceHttp, build_client, read_json
from harmonia.sources.pacing import TokenBucketPacer
from harmonia.sources.records import AdsCampaign, AdsMetrics

SOURCE = "googleads"
DEFAULT_VERSION = "v26"
# GAQL has no documented cap on IN lists small enough to matter; this keeps each query short.
IDS_PER_QUERY = 1000
CAMPAIGN_FIELDS = "campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type"
METRIC_FIELDS = "campaign.id, metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_REASON = re.compile(r"^[A-Z][A-Z0-9_]{0,80}$")  # an enum name: safe to repeat to a client


def parse_duration(value: Any) -> float | None:
    """A protobuf Duration in JSON form (``"1.5s"``) in seconds."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    return float(match.group(1)) if match else None


def retry_delay(error: dict[str, Any]) -> float | None:
    """The wait a Google error asks for: GoogleAdsFailure quota details, else a google.rpc.RetryInfo."""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and (delay := parse_duration(detail.get("retryDelay"))) is not None:
            return delay
    for failure in _failures(error):
        quota = (failure.get("details") or {}).get("quotaErrorDetails") or {}
        if (delay := parse_duration(quota.get("retryDelay"))) is not None:
            return delay
    return None


def _error_of(body: Any) -> dict[str, Any] | None:
    """The ``error`` object of an envelope, whether bare or wrapped in a one-element array."""
    if isinstance(body, list) and body and isinstance(body[-1], dict):
        body = body[-1]
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _failures(error: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for detail in error.get("details") or []:
        if isinstance(detail, dict):
            yield from (f for f in detail.get("errors") or [] if isinstance(f, dict))


def translate(error: dict[str, Any]) -> HarmoniaError:
    """Google's envelope as a Harmonia error; the message is ours, never the upstream text."""
    code, status = error.get("code"), error.get("status")
    if code == 400 or status == "INVALID_ARGUMENT":
        codes = [(failure.get("errorCode") or {}).values() for failure in _failures(error)]
        reasons = sorted({r for values in codes for r in values if isinstance(r, str) and _REASON.match(r)})
        if "UNSUPPORTED_VERSION" in reasons:
            # Not the caller's query: the configured API version was sunset (harmonia doctor says which).
            return UpstreamUnavailable(SOURCE, "googleads no longer serves the configured API version")
        because = f" ({', '.join(reasons)})" if reasons else ""
        return BadUserInput(f"Google Ads rejected the campaign query{because}")
    if code in (401, 403) or status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return UpstreamAuthFailed(SOURCE, "googleads refused Harmonia's credentials")
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        return UpstreamRateLimited(SOURCE, "googleads rate limit reached", retry_after=retry_delay(error))
    if code == 504 or status == "DEADLINE_EXCEEDED":
        return UpstreamTimeout(SOURCE, "googleads did not answer in time")
    return UpstreamUnavailable(SOURCE, f"googleads answered {code or status or 'an error'}")


def stream_rows(body: Any) -> list[dict[str, Any]]:
    """The rows of a decoded searchStream answer; an error anywhere in it is raised instead."""
    if not isinstance(body, list):
        error = _error_of(body)
        if error is not None:
            raise translate(error)
        raise UpstreamUnavailable(SOURCE, "googleads sent a response Harmonia could not read")
    rows: list[dict[str, Any]] = []
    for batch in body:
        if not isinstance(batch, dict):
            raise UpstreamUnavailable(SOURCE, "googleads sent a response Harmonia could not read")
        if isinstance(batch.get("error"), dict):
            raise translate(batch["error"])  # the stream failed after it had started
        rows.extend(batch.get("results") or [])
    return rows


class QuotaRetryHint(TokenBucketPacer):
    """A token bucket per customer that remembers the ``retryDelay`` of the last 429 for the retry."""

    def __init__(self, requests_per_second: float = 8.0) -> None:
        super().__init__(capacity=requests_per_second, rate=requests_per_second)
        self._delay: float | None = None

    async def release(self, response: httpx.Response | None, lease: object = None) -> None:
        if response is None or response.status_code != 429:
            return
        try:
            error = _error_of(read_json(response))
        except ValueError:
            error = None
        self._delay = retry_delay(error) if error is not None else None

    def retry_hint(self) -> float | None:
        return self._delay


class GoogleAdsAccount:
    """One Google Ads customer account, read through searchStream."""

    def __init__(self, http: SourceHttp, customer_id: str, api_version: str = DEFAULT_VERSION) -> None:
        self.http = http
        self.customer_id = re.sub(r"\D", "", customer_id)  # "123-456-7890" as shown in the UI
        self.api_version = api_version

    @classmethod
    def from_settings(
        cls, settings: GoogleAdsSettings, transport: httpx.AsyncBaseTransport | None = None, *,
        credential: Credential | None = None,
    ) -> GoogleAdsAccount:
        headers = {"developer-token": settings.developer_token}
        if settings.login_customer_id:
            headers["login-customer-id"] = re.sub(r"\D", "", settings.login_customer_id)
        client = build_client(settings, headers=headers, transport=transport)
        credential = credential or credential_for(SOURCE, settings, transport=transport)
        http = SourceHttp(SOURCE, client, pacer=QuotaRetryHint(settings.requests_per_second),
                          max_retries=settings.max_retries, credential=credential)
        return cls(http, settings.customer_id, settings.api_version)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def search_stream(self, query: str) -> list[dict[str, Any]]:
        """Every row of ``query``, the stream's batches flattened."""
        path = f"/{self.api_version}/customers/{self.customer_id}/googleAds:searchStream"
        # A search is a read: safe to retry although it is a POST.
        response = await self.http.request("POST", path, json={"query": query}, idempotent=True,
                                           passthrough=(400,))
        try:
            body = read_json(response)
        except ValueError as exc:
            raise UpstreamUnavailable(SOURCE, "googleads sent a response Harmonia could not read") from exc
        if response.status_code == 400:
            error = _error_of(body)
            raise translate(error if error is not None else {"code": 400})
        return stream_rows(body)

    async def list_campaigns(self) -> list[AdsCampaign]:
        rows = await self.search_stream(
            f"SELECT {CAMPAIGN_FIELDS} FROM campaign WHERE campaign.status != 'REMOVED' ORDER BY campaign.id")
        campaigns = [_campaign(row) for row in rows]
        return sorted(campaigns, key=lambda c: int(c.id))

    async def get_campaigns(self, ids: Sequence[str]) -> dict[str, AdsCampaign]:
        chunks = list(_id_chunks(ids))
        results = await asyncio.gather(*(self.search_stream(
            f"SELECT {CAMPAIGN_FIELDS} FROM campaign WHERE campaign.id IN ({', '.join(chunk)})")
            for chunk in chunks))
        return {c.id: c for rows in results for c in map(_campaign, rows)}

    async def campaign_metrics(
        self, ids: Sequence[str], start_date: str | None = None, end_date: str | None = None
    ) -> dict[str, AdsMetrics]:
        """Metrics per campaign summed over the dates (inclusive), or over its lifetime without any."""
        dates = _date_filter(start_date, end_date)
        chunks = list(_id_chunks(ids))
        results = await asyncio.gather(*(self.search_stream(
            f"SELECT {METRIC_FIELDS} FROM campaign WHERE campaign.id IN ({', '.join(chunk)}){dates}")
            for chunk in chunks))
        totals: dict[str, list[float]] = {}
        try:
            for rows in results:
                for row in rows:
                    metrics = row.get("metrics") or {}
                    # Summed so that a segmented answer (one row per day) still gives one total.
                    entry = totals.setdefault(str(row["campaign"]["id"]), [0, 0, 0, 0.0])
                    entry[0] += int(metrics.get("impressions") or 0)
                    entry[1] += int(metrics.get("clicks") or 0)
                    entry[2] += int(metrics.get("costMicros") or 0)
                    entry[3] += float(metrics.get("conversions") or 0.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(SOURCE, "googleads sent a response Harmonia could not read") from exc
        return {cid: AdsMetrics(campaign_id=cid, impressions=int(t[0]), clicks=int(t[1]),
                                cost_micros=int(t[2]), conversions=round(t[3], 6))
                for cid, t in totals.items()}


def _id_chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    """Distinct numeric ids (anything else names no campaign, so is never sent), in IN-list chunks."""
    distinct = list(dict.fromkeys(str(i).strip() for i in ids))
    numeric = [i for i in distinct if i.isdigit()]
    for start in range(0, len(numeric), IDS_PER_QUERY):
        yield numeric[start:start + IDS_PER_QUERY]


def _date_filter(start_date: str | None, end_date: str | None) -> str:
    parsed: list[date | None] = []
    for label, value in (("startDate", start_date), ("endDate", end_date)):
        if value is None:
            parsed.append(None)
            continue
        try:
            parsed.append(date.fromisoformat(value) if len(value) == 10 else None)
        except ValueError:
            parsed.append(None)
        if parsed[-1] is None:
            raise BadUserInput(f"{label} must be a date in YYYY-MM-DD form")
    start, end = parsed
    if start and end and start > end:
        raise BadUserInput("startDate must not be after endDate")
    if start and end:
        return f" AND segments.date BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'"
    if start:
        return f" AND segments.date >= '{start.isoformat()}'"
    if end:
        return f" AND segments.date <= '{end.isoformat()}'"
    return ""


def _campaign(row: dict[str, Any]) -> AdsCampaign:
    try:
        campaign = row["campaign"]
        return AdsCampaign(id=str(campaign["id"]), name=str(campaign.get("name") or ""),
                           status=str(campaign.get("status") or "UNSPECIFIED"),
                           channel_type=campaign.get("advertisingChannelType"))
    except (KeyError, TypeError) as exc:
        raise UpstreamUnavailable(SOURCE, "googleads sent a response Harmonia could not read") from exc
