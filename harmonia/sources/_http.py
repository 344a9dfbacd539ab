"""The one HTTP layer under every connector: pooled client, pacing, retries, error translation.

    http = SourceHttp("hubspot", build_client(settings, headers={...}), pacer=WindowPacer(100, 10.0))
    response = await http.request("GET", "/crm/v3/objects/contacts", params={"limit": 50})

``request`` returns the response for success (2xx, HubSpot's 207) and for the statuses a
connector wants to interpret itself (``passthrough``, 404 by default); everything else becomes
an ``UpstreamError`` from ``harmonia.errors``. Reads are retried on timeouts, transport errors,
5xx and 429 with jittered backoff, honouring ``Retry-After``, within the operation's deadline
(``harmonia.sources.deadline``; ``deadline`` seconds outside any operation); writes
(``idempotent=False``) are never retried. Waiting for a pacer slot counts against the deadline too
(``UPSTREAM_RATE_LIMITED`` when none comes in time), and an open ``circuit`` refuses at once (a
half-open one lets one probe through; this process's other calls wait for its outcome).

With a ``credential`` (``harmonia.credentials``) each attempt carries the source's current access token,
renewed before it expires; a 401 to a renewable token renews it once and sends the call again, outside
the retry count, so an access token revoked or expired early costs one extra call, not a failed field.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import aiohttp
import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from harmonia.cache.hints import report_cache_control
from harmonia.credentials import AccessToken, Credential
from harmonia.errors import (
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from harmonia.observability.upstream import traced_request
from harmonia.settings import SourceSettings
from harmonia.sources.circuit import Circuit
from harmonia.sources.deadline import bounded
from harmonia.sources.pacing import Pacer

SUCCESS = frozenset({200, 201, 202, 204, 207})
URL_MEMO_SIZE = 1024
RateLimitHook = Callable[[httpx.Response, float], Awaitable[UpstreamError | None]]


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
        transport = CookielessAiohttpTransport(limits=limits)
    return SourceClient(base_url=settings.base_url.rstrip("/"), headers=dict(headers or {}), auth=auth,
                        timeout=timeout, limits=limits, transport=transport)


class CookielessAiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport on an aiohttp session that keeps no cookies.

    httpx's jar is not the only one: aiohttp's session keeps the ``Set-Cookie`` of every answer
    (HubSpot's CDN sets ``__cf_bm``) and sends it back on every later call, for every user. The
    session is the one httpx-aiohttp would build (same pool limit, keep-alive and TLS context)
    with aiohttp's ``DummyCookieJar``.
    """

    def get_client(self) -> aiohttp.ClientSession:
        limit = self.limits.max_connections
        connector = aiohttp.TCPConnector(keepalive_timeout=self.limits.keepalive_expiry, ssl=self.ssl_context,
                                         limit=limit if limit is not None else 100)  # aiohttp's own default
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class IgnoredCookies(httpx.Cookies):
    """Cookies that keep nothing a source sets (see ``SourceClient``)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class SourceClient(httpx.AsyncClient):
    """httpx's client for one source: no cookie jar (and none in the transport), and a direct ``fetch``.

    One client serves every user of the gateway: a cookie one answer sets (a session, a load
    balancer's affinity, a consent flag) would otherwise ride along on every later call made for
    anyone. These APIs authenticate with headers, so nothing needs one; not reading ``Set-Cookie``
    (httpx builds urllib request/response stand-ins for it) also saves ~30-50 us a call.

    ``fetch`` is ``request`` for what the connectors send (a URL, a body, headers): the request httpx
    builds, handed to the client's one transport, the body read. It skips what ``send`` wraps around
    the transport for features these clients do not use (auth flows, redirects, event hooks, the
    cookie jar, per-request logging); a client that has any of them goes through ``send``.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        self._ignored = IgnoredCookies()
        self._one_transport = transport  # given explicitly, so httpx mounts no proxies beside it
        super().__init__(transport=transport, **kwargs)

    async def fetch(self, method: str, url: httpx.URL, *, content: bytes | None,
                    headers: Mapping[str, str] | None) -> httpx.Response:
        hooks = self.event_hooks
        if self.auth is not None or self.follow_redirects or hooks["request"] or hooks["response"]:
            return await self.request(method, url, content=content, headers=headers)
        request = self.build_request(method, url, content=content, headers=headers)
        response = await self._one_transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response

    @property
    def cookies(self) -> httpx.Cookies:
        return self._ignored

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._ignored = IgnoredCookies()


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


class _PacingTimeout(Exception):
    """No call slot under the quota within what the operation has left."""


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
        circuit: Circuit | None = None,
        attempt_timeout: float | None = None,
        on_rate_limited: RateLimitHook | None = None,
        credential: Credential | None = None,
    ) -> None:
        self.source = source
        self.credential = credential
        # Queue here, not in the connection pool: httpcore's pool rescans every waiting request
        # on each change, which turned 50 queued calls into 200+ ms of CPU per query.
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self.client = client
        self.pacer = pacer
        self.max_retries = max_retries
        # Used only outside an operation deadline (``harmonia.sources.deadline``), e.g. a script.
        self.deadline = deadline
        self.backoff_base = backoff_base
        self.circuit = circuit
        # One attempt's whole time; httpx's own timeouts are per read, and an ASGI transport has none.
        self.attempt_timeout = attempt_timeout if attempt_timeout is not None else _attempt_timeout(client)
        # A connector's reading of a 429 (its body, the request's send time): an error to raise at once
        # when retrying cannot help (a quota spent until a known time), None for an ordinary 429.
        self.on_rate_limited = on_rate_limited
        # (path, params) -> the absolute URL httpx would build: parsing and merging it with the base
        # URL every call was ~120 us of CPU (the same list, batch and report paths repeat).
        self._urls: dict[tuple[str, Any], httpx.URL] = {}

    def url(self, path: str, params: Mapping[str, Any] | None) -> httpx.URL:
        """The absolute URL of ``path`` with ``params``, exactly as ``client.request`` would build it."""
        try:
            key = (path, tuple(params.items()) if params else None)
            url = self._urls.get(key)
        except TypeError:  # a list among the values: not memoized
            return self.client.build_request("GET", path, params=params).url
        if url is None:
            url = self.client.build_request("GET", path, params=params).url
            if len(self._urls) >= URL_MEMO_SIZE:
                del self._urls[next(iter(self._urls))]  # the oldest: ids churn, lists and batches stay
            self._urls[key] = url
        return url

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.credential is not None:
            await self.credential.aclose()

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
        url = self.url(path, params)
        ends = time.monotonic() + bounded(self.deadline)
        attempt = 0
        error: UpstreamError | None = None
        renewed = False
        while True:
            attempt += 1
            left = ends - time.monotonic()
            if left <= 0:
                raise error or UpstreamTimeout(self.source, f"{self.source} did not answer in time")
            token: AccessToken | None = None
            if self.credential is not None:
                await self._token(left)  # no token to be had: fail now, not after queueing for a slot
            probe = False
            if self.circuit is not None:
                try:
                    # Behind this process's half-open probe, wait for its outcome within the deadline.
                    probe = await self.circuit.allow(patience=left)
                except UpstreamUnavailable:
                    # Opened while this call retried: what happened to this call says more.
                    if error is not None:
                        raise error from None
                    raise
            wait: float | None = None
            sent_at = time.time()
            try:
                response, token = await self._send(method, path, url, json=json, headers=headers, left=left)
            except _PacingTimeout:
                raise UpstreamRateLimited(self.source, f"{self.source} quota: no call slot within the "
                                          "operation's time limit") from None
            except httpx.PoolTimeout:
                raise UpstreamTimeout(self.source, f"Too many requests queued for {self.source}") from None
            except (httpx.TimeoutException, TimeoutError) as exc:
                error = (UpstreamUnavailable(self.source, f"{self.source} dropped the connection")
                         if _dropped(exc) else UpstreamTimeout(self.source, f"{self.source} did not answer in time"))
                await self._record(outage=True)
            except (httpx.TransportError, httpx.DecodingError, OSError):
                # OSError: a reset surfacing from a transport that does not wrap it (ASGI, aiohttp internals).
                error = UpstreamUnavailable(self.source, f"{self.source} could not be reached")
                await self._record(outage=True)
            else:
                status = response.status_code
                outage = status >= 500
                # Any answer but a 5xx shows the API is up (a 429 too: that is pacing, not an outage).
                await self._record(outage)
                if status in SUCCESS or status in passthrough:
                    # The entity cache (if it is fetching) honours what the API says about freshness.
                    report_cache_control(response.headers.get("cache-control"))
                    return response
                if status == 401 and token is not None and not renewed and self._renewable():
                    renewed = True
                    await self._renew(token, ends - time.monotonic())
                    attempt -= 1  # the call sent again with the new token is not one of the retries
                    continue
                if status in (401, 403):
                    raise UpstreamAuthFailed(self.source, f"{self.source} refused Harmonia's credentials")
                if status == 429:
                    if self.on_rate_limited is not None and (
                            final := await self.on_rate_limited(response, sent_at)) is not None:
                        raise final
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    if wait is None and self.pacer is not None:
                        wait = self.pacer.retry_hint()
                    error = UpstreamRateLimited(self.source, f"{self.source} rate limit reached", retry_after=wait)
                elif outage:
                    error = UpstreamUnavailable(self.source, f"{self.source} answered {status}")
                else:
                    raise UpstreamUnavailable(self.source, f"{self.source} rejected the request ({status})")
                # 429 is safe to retry even for writes: the request was refused, not applied.
                retryable = retryable or status == 429
            finally:
                if probe and self.circuit is not None:
                    self.circuit.probe_ended()  # ended without an outcome (no slot, cancelled): release waiters
            if not retryable or attempt > self.max_retries:
                raise error
            delay = wait if wait is not None else self._backoff(attempt)
            if time.monotonic() + delay > ends:
                raise error
            await asyncio.sleep(delay)

    def _renewable(self) -> bool:
        return self.credential is not None and self.credential.renewable

    async def _token(self, left: float) -> AccessToken:
        """The credential's current token, renewed first if due, within what the operation has left."""
        assert self.credential is not None
        try:
            async with asyncio.timeout(left):
                return await self.credential.token()
        except TimeoutError:
            raise UpstreamTimeout(self.source, f"{self.source}: no access token in time") from None

    async def _renew(self, rejected: AccessToken, left: float) -> None:
        assert self.credential is not None
        try:
            async with asyncio.timeout(max(0.0, left)):
                await self.credential.rejected(rejected)
        except TimeoutError:
            raise UpstreamTimeout(self.source, f"{self.source}: no access token in time") from None

    async def _record(self, outage: bool) -> None:
        if self.circuit is not None:
            await self.circuit.record(ok=not outage)

    def _backoff(self, attempt: int) -> float:
        cap = min(2.0, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(cap / 2, cap)  # jitter, not cryptography

    async def _send(
        self,
        method: str,
        path: str,
        url: httpx.URL,
        *,
        json: Any,
        headers: Mapping[str, str] | None,
        left: float,
    ) -> tuple[httpx.Response, AccessToken | None]:
        """The answer, and the access token it was sent with (taken after the pacing wait, which may
        be longer than what was left of the token taken before it)."""
        slot_started = time.monotonic()
        try:
            async with asyncio.timeout(left):
                await self._in_flight.acquire()
        except TimeoutError:
            raise _PacingTimeout from None
        try:
            lease: object = None
            if self.pacer is not None:
                try:
                    async with asyncio.timeout(left - (time.monotonic() - slot_started)):
                        lease = await self.pacer.acquire()
                except TimeoutError:
                    raise _PacingTimeout from None
            response: httpx.Response | None = None
            try:
                token: AccessToken | None = None
                if self.credential is not None:
                    token = await self._token(left - (time.monotonic() - slot_started))
                    auth = self.credential.headers_for(token)
                    headers = {**headers, **auth} if headers else auth
                async with asyncio.timeout(min(self.attempt_timeout, left - (time.monotonic() - slot_started))):
                    response = await traced_request(self.client, self.source, method, path, url=url, json=json,
                                                    headers=headers)
                return response, token
            finally:
                if self.pacer is not None:
                    await self.pacer.release(response, lease)
        finally:
            self._in_flight.release()


def _dropped(exc: BaseException) -> bool:
    """httpx-aiohttp reports a server closing the connection as a ConnectTimeout: tell them apart."""
    return isinstance(exc.__cause__, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | ConnectionError)


def _attempt_timeout(client: httpx.AsyncClient) -> float:
    timeout = client.timeout
    return (timeout.connect or 0.0) + (timeout.read or 0.0) or 30.0
