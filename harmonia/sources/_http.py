"""The one HTTP layer under every connector: pooled client, pacing, retries, error translation.

    http = SourceHttp("shopify", build_client(settings, headers={...}), pacer=LeakyBucketPacer(40, 2.0))
    response = await http.request("GET", "/admin/api/2024-04/orders.json", params={"limit": 50})

``request`` returns the response for success (2xx, HubSpot's 207) and for the statuses a
connector wants to interpret itself (``passthrough``, 404 by default); everything else becomes
an ``UpstreamError`` from ``harmonia.errors``. Reads are retried on timeouts, transport errors,
5xx and 429 with jittered backoff, honouring ``Retry-After``, within ``deadline`` seconds;
writes (``idempotent=False``) are never retried.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from harmonia.cache.hints import report_cache_control
from harmonia.errors import (
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from harmonia.settings import SourceSettings
from harmonia.sources.pacing import Pacer

SUCCESS = frozenset({200, 201, 202, 204, 207})


def build_client(
    settings: SourceSettings,
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """One pooled, keep-alive client for one source, built once at startup."""
    # Waiting for a pooled connection is our own queue, not the upstream being slow: give it
    # longer than a read, and never retry it (see SourceHttp.request).
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout, pool=settings.pool_timeout)
    limits = httpx.Limits(max_connections=settings.max_connections,
                          max_keepalive_connections=settings.max_connections)
    if transport is None:
        # aiohttp under httpx's API: measured here at a fraction of httpcore's CPU per call, and free
        # of its pool's rescans of waiting requests (see bench/README.md).
        transport = AiohttpTransport(limits=limits)
    return httpx.AsyncClient(base_url=settings.base_url.rstrip("/"), headers=dict(headers or {}), auth=auth,
                             timeout=timeout, limits=limits, transport=transport)


def read_json(response: httpx.Response) -> Any:
    """The body as JSON, through orjson: several times cheaper than ``response.json()`` (stdlib json)
    on a 50-order Shopify page. Raises ValueError (``orjson.JSONDecodeError``) as ``json()`` does."""
    return orjson.loads(response.content)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: rare from these APIs; fall back to our own backoff


class SourceHttp:
    """One source's requests; the only place that touches ``httpx`` exceptions."""

    def __init__(
        self,
        source: str,
        client: httpx.AsyncClient,
        *,
        pacer: Pacer | None = None,
        max_retries: int = 3,
        deadline: float = 20.0,
        backoff_base: float = 0.1,
        max_in_flight: int = 20,
    ) -> None:
        self.source = source
        # Queue here, not in the connection pool: httpcore's pool rescans every waiting request
        # on each change, which turned 50 queued calls into 200+ ms of CPU per query.
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self.client = client
        self.pacer = pacer
        self.max_retries = max_retries
        self.deadline = deadline
        self.backoff_base = backoff_base

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        passthrough: Collection[int] = (404,),
    ) -> httpx.Response:
        retryable = idempotent if idempotent is not None else method in ("GET", "HEAD")
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            error: UpstreamError
            wait: float | None = None
            try:
                response = await self._send(method, path, params=params, json=json, headers=headers)
            except httpx.PoolTimeout:
                raise UpstreamTimeout(self.source, f"Too many requests queued for {self.source}") from None
            except httpx.TimeoutException:
                error = UpstreamTimeout(self.source, f"{self.source} did not answer in time")
            except (httpx.TransportError, httpx.DecodingError):
                error = UpstreamUnavailable(self.source, f"{self.source} could not be reached")
            else:
                status = response.status_code
                if status in SUCCESS or status in passthrough:
                    # The entity cache (if it is fetching) honours what the API says about freshness.
                    report_cache_control(response.headers.get("cache-control"))
                    return response
                if status in (401, 403):
                    raise UpstreamAuthFailed(self.source, f"{self.source} refused Harmonia's credentials")
                if status == 429:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    if wait is None and self.pacer is not None:
                        wait = self.pacer.retry_hint()
                    error = UpstreamRateLimited(self.source, f"{self.source} rate limit reached", retry_after=wait)
                elif status >= 500:
                    error = UpstreamUnavailable(self.source, f"{self.source} answered {status}")
                else:
                    raise UpstreamUnavailable(self.source, f"{self.source} rejected the request ({status})")
                # 429 is safe to retry even for writes: the request was refused, not applied.
                retryable = retryable or status == 429
            if not retryable or attempt > self.max_retries:
                raise error
            delay = wait if wait is not None else self._backoff(attempt)
            if time.monotonic() - started + delay > self.deadline:
                raise error
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        cap = min(2.0, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(cap / 2, cap)  # jitter, not cryptography

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        content: bytes | None = None
        if json is not None:  # orjson encodes request bodies too (httpx's encoder is stdlib json)
            content = orjson.dumps(json)
            headers = {**(headers or {}), "Content-Type": "application/json"}
        async with self._in_flight:
            if self.pacer is None:
                return await self.client.request(method, path, params=params, content=content, headers=headers)
            await self.pacer.acquire()
            response: httpx.Response | None = None
            try:
                response = await self.client.request(method, path, params=params, content=content,
                                                     headers=headers)
                return response
            finally:
                self.pacer.release(response)
