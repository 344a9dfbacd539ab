"""One shop's GraphQL Admin API: a query in, its ``data`` out, paced by cost and THROTTLED handled.

    admin = ShopifyAdmin(http, api_version="2026-10", pacer=CostPacer(2000.0, 100.0))
    data = await admin.run("query HarmoniaOrders($first: Int!) {...}", {"first": 50}, cost=152)

What Shopify says about each call is read here and nowhere else: ``extensions.cost`` feeds the
pacer; THROTTLED (in an HTTP 200 body or as a 429: both are reported) waits for the points and asks
again within the operation's deadline, then answers ``UPSTREAM_RATE_LIMITED``; MAX_COST_EXCEEDED
raises ``TooCostly`` with Shopify's own figure, and the connector splits the query (our prices are
raised to match from then on). Other GraphQL errors without data are the request's fault or
Shopify's: ``UPSTREAM_UNAVAILABLE`` with a message that never repeats Shopify's text. Field errors
beside data are kept (their paths, under ``ERROR_PATHS``) so a batch can tell which record failed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

import httpx

from harmonia.errors import UpstreamAuthFailed, UpstreamRateLimited, UpstreamUnavailable
from harmonia.settings import ShopifySettings
from harmonia.sources._http import SourceHttp, parse_retry_after, read_json
from harmonia.sources.deadline import bounded
from harmonia.sources.shopify_fields import undefined_fields
from harmonia.sources.shopify_pacing import CostPacing, Report, ThrottleStatus

SOURCE = "shopify"
MAX_QUERY_COST = 1000  # Shopify's single-query maximum, whatever the bucket
# A refusal that says nothing of when to come back is waited out from half a second, doubling to 8 s.
FIRST_BLIND_WAIT, LAST_BLIND_WAIT = 0.5, 8.0
# Where the answer's field errors were, kept under a key no GraphQL response name can be (it has a space).
ERROR_PATHS = " error paths"
log = logging.getLogger("harmonia.sources.shopify")


def version_supported_until(api_version: str) -> date | None:
    """The day Shopify stops supporting a stable version: each is released on the first of its month
    and supported for at least 12 months (shopify.dev/docs/api/usage/versioning: 2023-01 until
    2024-01-01). None for ``unstable`` or a name that is not ``YYYY-MM``."""
    year, _, month = api_version.partition("-")
    if not (year.isdigit() and month.isdigit() and len(year) == 4 and 1 <= int(month) <= 12):
        return None
    return date(int(year) + 1, int(month), 1)


def auth_headers(settings: ShopifySettings) -> dict[str, str]:
    """How Harmonia proves itself to the shop: the one place the access token is put on a request."""
    return {"X-Shopify-Access-Token": settings.token}


class UnknownFields(Exception):
    """Shopify's schema has no such field: the caller may read on without it (``shopify_fields``)."""

    def __init__(self, fields: frozenset[tuple[str, str]]) -> None:
        super().__init__(f"unknown fields {sorted(fields)}")
        self.fields = fields


class TooCostly(Exception):
    """Shopify priced a query over what one query may cost: split it and ask again."""

    def __init__(self, cost: float) -> None:
        super().__init__(f"query cost {cost}")
        self.cost = cost


def _codes(body: Mapping[str, Any]) -> set[str]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return set()
    return {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}


def _throttle_status(cost: Any) -> ThrottleStatus | None:
    status = cost.get("throttleStatus") if isinstance(cost, dict) else None
    if not isinstance(status, dict):
        return None
    try:
        return ThrottleStatus(float(status["maximumAvailable"]), float(status["currentlyAvailable"]),
                              float(status["restoreRate"]))
    except (TypeError, KeyError, ValueError):
        return None  # an answer that does not say: the pacer keeps its own count


class ShopifyAdmin:
    def __init__(self, http: SourceHttp, api_version: str, pacer: CostPacing) -> None:
        self.http = http
        self.api_version = api_version
        self.pacer = pacer
        # Shopify's prices over ours: raised when it ever prices a query higher than we did, so that
        # splits stay under its limit even where its rules differ from upstreams.md's.
        self.scale = 1.0
        self.last_status: ThrottleStatus | None = None

    @property
    def path(self) -> str:
        return f"/admin/api/{self.api_version}/graphql.json"

    def budget(self) -> float:
        """The most one query may cost, in our own prices: Shopify's limit, or the bucket if smaller."""
        return min(MAX_QUERY_COST, self.pacer.status().maximum) / self.scale

    async def run(self, document: str, variables: Mapping[str, Any] | None, cost: float, *,
                  write: bool = False) -> dict[str, Any]:
        """The answer's ``data``; ``cost`` is the document's requested cost by upstreams.md's rules."""
        price = cost * self.scale
        ends = time.monotonic() + bounded(self.http.deadline)
        backoff = FIRST_BLIND_WAIT
        while True:
            if self.pacer.learned and price > self.pacer.status().maximum:
                raise TooCostly(price)  # more than this shop's whole bucket: only a split helps
            left = ends - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                async with asyncio.timeout(left):
                    ticket = await self.pacer.acquire(price)
            except TimeoutError:
                raise UpstreamRateLimited(SOURCE, "shopify quota: no query points free within the operation's "
                                          "time limit") from None
            report: Report | None = None
            try:
                response = await self.http.request("POST", self.path, json={"query": document,
                                                                            "variables": dict(variables or {})},
                                                   idempotent=not write, passthrough=(429,))
                body = self._body(response, lenient=response.status_code == 429)
                report = self._report(response, body)
            finally:
                await self.pacer.settle(ticket, report)
            self._learn_prices(body, cost)
            if report is not None and report.throttled:
                if report.status is not None and price > report.status.maximum:
                    raise TooCostly(price)  # never fits this shop's bucket: only a split helps
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if not wait and report.status is None:
                    # Refused with nothing saying when points come back (a 429 without a throttle status:
                    # a proxy, or another reading of the docs): back off, doubling, rather than ask again
                    # at once (a storm of them was 120 calls in one operation's two seconds).
                    wait, backoff = backoff * random.uniform(1.0, 1.25), min(backoff * 2, LAST_BLIND_WAIT)
                if wait:
                    if time.monotonic() + wait >= ends:  # no time left to wait it out: say so at the end
                        await asyncio.sleep(max(0.0, ends - time.monotonic()))
                        raise UpstreamRateLimited(SOURCE, "shopify kept refusing (throttled) until the "
                                                  "operation's time limit")
                    await asyncio.sleep(wait)
                continue  # the pacer now knows what is left and waits for the points
            return self._data(body, cost)

    def _body(self, response: httpx.Response, *, lenient: bool = False) -> dict[str, Any]:
        """The answer as JSON; a 429 whose body is not JSON (a proxy's page) is still a refusal to wait out."""
        try:
            body = read_json(response)
        except ValueError:
            if lenient:
                return {}
            raise UpstreamUnavailable(SOURCE, "shopify sent a body that is not JSON") from None
        if not isinstance(body, dict):
            raise UpstreamUnavailable(SOURCE, "shopify sent an unexpected body")
        return body

    def _report(self, response: httpx.Response, body: Mapping[str, Any]) -> Report:
        extensions = body.get("extensions")
        cost = extensions.get("cost") if isinstance(extensions, dict) else None
        status = _throttle_status(cost)
        if status is not None:
            self.last_status = status
        actual = cost.get("actualQueryCost") if isinstance(cost, dict) else None
        throttled = response.status_code == 429 or "THROTTLED" in _codes(body)
        return Report(status, float(actual) * 1 if isinstance(actual, int | float) else None, throttled)

    def _learn_prices(self, body: Mapping[str, Any], cost: float) -> None:
        extensions = body.get("extensions")
        priced = (extensions.get("cost") or {}).get("requestedQueryCost") if isinstance(extensions, dict) else None
        for error in body.get("errors") or []:
            code_info = error.get("extensions") if isinstance(error, dict) else None
            if isinstance(code_info, dict) and code_info.get("code") == "MAX_COST_EXCEEDED":
                priced = code_info.get("cost")
        if isinstance(priced, int | float) and cost > 0 and priced > cost * self.scale:
            log.warning("shopify priced a query at %s points where Harmonia counted %s: splitting by its price",
                        priced, cost)
            self.scale = priced / cost

    def _data(self, body: Mapping[str, Any], cost: float) -> dict[str, Any]:
        codes = _codes(body)
        if "MAX_COST_EXCEEDED" in codes:
            raise TooCostly(cost * self.scale)
        data = body.get("data")
        if "ACCESS_DENIED" in codes and not isinstance(data, dict):
            raise UpstreamAuthFailed(SOURCE, "shopify refused Harmonia's access token for this data (missing scope)")
        if not isinstance(data, dict):
            if unknown := undefined_fields(body.get("errors") or ()):
                raise UnknownFields(frozenset(unknown))
            if codes - {"None"}:
                log.warning("shopify refused a query: %s", sorted(codes))
            raise UpstreamUnavailable(SOURCE, "shopify could not answer the query")
        if body.get("errors"):
            log.warning("shopify answered with errors: %s", sorted(codes))
            data[ERROR_PATHS] = [tuple(e["path"]) for e in body["errors"]
                                 if isinstance(e, dict) and isinstance(e.get("path"), list)]
        return data
