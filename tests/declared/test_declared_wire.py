"""Every paging style and auth kind a declaration may name, against a small vendor API of 23 widgets.

The shipped declarations use cursor-in-body (Meta) and next-link (Klaviyo) paging and an API key in
a header; these are the other styles and kinds of the format, each read to its last page with the exact
number of calls, and the credential on every one of them, as a real API would check it.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harmonia.errors import UpstreamAuthFailed
from harmonia.sources.declared.connector import DeclaredAPI
from harmonia.sources.declared.loader import parse_declarations
from harmonia.sources.declared.registry import _renewing
from harmonia.sources.declared.templates import setting_values

WIDGETS = [{"id": f"w{i:02d}", "label": f"Widget {i}", "email": f" Buyer{i}@Example.COM "} for i in range(1, 24)]
PAGE = 10


class Vendor:
    """Answers each paging style over the same 23 widgets; records what each call carried."""

    def __init__(self, check: Callable[[Request], bool]) -> None:
        self.check = check
        self.calls: list[Request] = []
        self.app = Starlette(routes=[Route(f"/{style}", getattr(self, style)) for style in
                                     ("cursor", "offset", "linked", "tokens")])

    def _admit(self, request: Request) -> Response | None:
        self.calls.append(request)
        return None if self.check(request) else JSONResponse({"error": "unauthorized"}, status_code=401)

    async def cursor(self, request: Request) -> Response:
        refused = self._admit(request)
        start = int(request.query_params.get("after") or 0)
        size = int(request.query_params["limit"])
        page = WIDGETS[start:start + size]
        more = start + size < len(WIDGETS)
        return refused or JSONResponse({"data": page, "meta": {"next": str(start + size) if more else None}})

    async def offset(self, request: Request) -> Response:
        refused = self._admit(request)
        start = int(request.query_params.get("offset") or 0)
        return refused or JSONResponse({"items": WIDGETS[start:start + int(request.query_params["limit"])]})

    async def linked(self, request: Request) -> Response:
        refused = self._admit(request)
        page = int(request.query_params.get("page") or 1)
        headers = {}
        if page * PAGE < len(WIDGETS):
            # An absolute link naming another host: followed on the declared base URL only.
            headers["Link"] = f'<https://elsewhere.example/linked?page={page + 1}>; rel="next"'
        return refused or JSONResponse(WIDGETS[(page - 1) * PAGE:page * PAGE], headers=headers)

    async def tokens(self, request: Request) -> Response:
        refused = self._admit(request)
        start = int(request.query_params.get("pageToken") or 0)
        more = start + PAGE < len(WIDGETS)
        return refused or JSONResponse({"rows": WIDGETS[start:start + PAGE],
                                        "nextPageToken": str(start + PAGE) if more else ""})


PAGING = {
    "cursor": ("data", "{style: cursor, cursor: meta.next, param: after, size_param: limit, max_page_size: 10}"),
    "offset": ("items", "{style: offset, param: offset, size_param: limit, max_page_size: 10}"),
    "linked": (None, "{style: link_header, max_page_size: 10}"),
    "tokens": ("rows", "{style: page_token, cursor: nextPageToken, param: pageToken, max_page_size: 10}"),
}

AUTH = {
    "bearer": ("{kind: bearer, token: '{settings.secret}'}",
               lambda r: r.headers.get("authorization") == "Bearer s3cret"),
    "basic": ("{kind: basic, username: ada, password: '{settings.secret}'}",
              lambda r: r.headers.get("authorization") == "Basic " + base64.b64encode(b"ada:s3cret").decode()),
    "api_key_query": ("{kind: api_key_query, param: api_key, token: '{settings.secret}'}",
                      lambda r: r.query_params.get("api_key") == "s3cret"),
    "api_key_header": ("{kind: api_key_header, header: X-Api-Key, prefix: 'Key ', token: '{settings.secret}'}",
                       lambda r: r.headers.get("x-api-key") == "Key s3cret"),
}


def declaration(style: str, auth: str) -> Any:
    items, paging = PAGING[style]
    text = f"""
name: widgets
base_url: https://api.widgets.example
version: "2026-01"
settings:
  secret: {{secret: true}}
auth: {AUTH[auth][0]}
types:
  Widget:
    key: id
    fields:
      id: {{type: ID!, select: id}}
      label: {{type: String, select: label}}
      email: {{type: String, select: email, normalize: email}}
    list:
      path: /{style}
{f"      items: {items}" if items else ""}
      paging: {paging}
"""
    return parse_declarations({"widgets.yaml": text}).declarations[0]


def api(style: str, auth: str, vendor: Vendor, secret: str = "s3cret") -> DeclaredAPI:
    return DeclaredAPI.build(declaration(style, auth), {"base_url": "http://vendor", "secret": secret},
                             transport=httpx.ASGITransport(app=vendor.app))


@pytest.mark.parametrize("style", sorted(PAGING))
async def test_each_paging_style_reads_every_record_in_three_calls(style: str) -> None:
    vendor = Vendor(AUTH["bearer"][1])
    widgets = api(style, "bearer", vendor)
    try:
        records = await widgets.list_all("Widget")
    finally:
        await widgets.aclose()
    assert [r.key for r in records] == [w["id"] for w in WIDGETS]
    assert records[0].fields["email"] == "buyer1@example.com"   # normalized as the built-in sources' emails
    assert len(vendor.calls) == 3
    assert {c.url.hostname for c in vendor.calls} == {"vendor"}  # never the host a Link header named


async def test_a_limit_stops_paging_early() -> None:
    vendor = Vendor(AUTH["bearer"][1])
    widgets = api("cursor", "bearer", vendor)
    try:
        records = await widgets.list_all("Widget", limit=5)
    finally:
        await widgets.aclose()
    assert len(records) == 5 and len(vendor.calls) == 1


@pytest.mark.parametrize("auth", sorted(AUTH))
async def test_each_auth_kind_is_sent_on_every_call(auth: str) -> None:
    vendor = Vendor(AUTH[auth][1])
    widgets = api("offset", auth, vendor)
    try:
        assert len(await widgets.list_all("Widget")) == len(WIDGETS)
    finally:
        await widgets.aclose()
    assert len(vendor.calls) == 3 and all(AUTH[auth][1](c) for c in vendor.calls)


@pytest.mark.parametrize("auth", sorted(AUTH))
async def test_a_refused_credential_is_an_auth_failure(auth: str) -> None:
    vendor = Vendor(AUTH[auth][1])
    widgets = api("offset", auth, vendor, secret="wrong")
    try:
        with pytest.raises(UpstreamAuthFailed):
            await widgets.list_all("Widget")
    finally:
        await widgets.aclose()


class OAuthVendor(Vendor):
    """The same API behind OAuth: a token endpoint issuing short tokens, and a way to revoke one."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.grants: list[dict[str, str]] = []
        super().__init__(lambda r: r.headers.get("authorization", "").removeprefix("Bearer ") in self.live())
        self.app.router.routes.append(Route("/oauth/token", self.token, methods=["POST"]))

    def live(self) -> set[str]:
        return set(self.issued) - self.revoked

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        self.grants.append(form)
        if form.get("client_secret") != "cs-1" or (form.get("grant_type") == "refresh_token"
                                                    and form.get("refresh_token") != "rt-1"):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        self.issued.append(f"at-{len(self.issued) + 1}")
        return JSONResponse({"access_token": self.issued[-1], "token_type": "Bearer", "expires_in": 3600})


OAUTH = {
    "oauth_client_credentials": "{kind: oauth_client_credentials, token_url: 'http://vendor/oauth/token', "
                                "client_id: ci-1, client_secret: '{settings.secret}'}",
    "oauth_refresh_token": "{kind: oauth_refresh_token, token_url: 'http://vendor/oauth/token', "
                           "client_id: ci-1, client_secret: '{settings.secret}', refresh_token: rt-1}",
}


def oauth_api(kind: str, vendor: OAuthVendor) -> DeclaredAPI:
    AUTH[kind] = (OAUTH[kind], vendor.check)
    try:
        d = declaration("offset", kind)
    finally:
        del AUTH[kind]
    transport = httpx.ASGITransport(app=vendor.app)
    configured = {"base_url": "http://vendor", "secret": "cs-1"}
    credential = _renewing(d, setting_values(d, configured), transport, None)
    assert credential is not None
    return DeclaredAPI.build(d, configured, transport=transport, credential=credential)


@pytest.mark.parametrize("kind", sorted(OAUTH))
async def test_oauth_credentials_are_obtained_once_and_renewed_once_on_a_401(kind: str) -> None:
    vendor = OAuthVendor()
    widgets = oauth_api(kind, vendor)
    try:
        assert len(await widgets.list_all("Widget")) == len(WIDGETS)
        assert vendor.issued == ["at-1"] and len(vendor.calls) == 3   # one token for the three pages
        vendor.revoked.add("at-1")                                    # revoked before it expired
        assert len(await widgets.list_all("Widget")) == len(WIDGETS)
    finally:
        await widgets.aclose()
    assert vendor.issued == ["at-1", "at-2"]                          # one renewal, then the retry answered
    assert [g["grant_type"] for g in vendor.grants] == [kind.removeprefix("oauth_")] * 2
    assert len(vendor.calls) == 3 + 1 + 3


class QuotaVendor(Vendor):
    """The API with a rolling window of ``limit`` calls per ``window`` seconds it tells in its headers
    (and refuses beyond with a 429), slowed down by a latency, counting calls in flight."""

    def __init__(self, limit: int, window: float, latency: float) -> None:
        super().__init__(AUTH["bearer"][1])
        self.limit, self.window, self.latency = limit, window, latency
        self.stamps: list[float] = []
        self.refused = 0
        self.flying = self.most_flying = 0

    async def offset(self, request: Request) -> Response:
        self.flying += 1
        self.most_flying = max(self.most_flying, self.flying)
        try:
            await asyncio.sleep(self.latency)
            now = time.monotonic()
            self.stamps = [t for t in self.stamps if now - t < self.window]
            headers = {"RateLimit-Limit": str(self.limit)}
            if len(self.stamps) >= self.limit:
                self.refused += 1
                return JSONResponse({"error": "rate limited"}, status_code=429,
                                    headers={**headers, "RateLimit-Remaining": "0", "Retry-After": "1"})
            self.stamps.append(now)
            response = await super().offset(request)
            response.headers.update({**headers, "RateLimit-Remaining": str(self.limit - len(self.stamps))})
            return response
        finally:
            self.flying -= 1


def quota_api(vendor: QuotaVendor, quota: str) -> DeclaredAPI:
    text = f"""
name: widgets
base_url: https://api.widgets.example
settings: {{secret: {{secret: true}}}}
auth: {AUTH["bearer"][0]}
quota: {quota}
types:
  Widget:
    key: id
    fields: {{id: {{type: ID!, select: id}}}}
    list: {{path: /offset, items: items, paging: {PAGING["offset"][1]}}}
"""
    d = parse_declarations({"widgets.yaml": text}).declarations[0]
    return DeclaredAPI.build(d, {"base_url": "http://vendor", "secret": "s3cret"},
                             transport=httpx.ASGITransport(app=vendor.app))


async def test_a_window_quota_told_by_headers_is_never_exceeded_whatever_the_latency() -> None:
    """Configured at 50 a second, the API says 6: twelve calls of ~80 ms keep under its rolling window."""
    vendor = QuotaVendor(limit=6, window=1.0, latency=0.08)
    widgets = quota_api(vendor, "{model: fixed_window, limit: 50, window_seconds: 1, headroom: 0, "
                                "follow: {limit: {header: RateLimit-Limit}, remaining: {header: RateLimit-Remaining}}}")
    try:
        await widgets.list_all("Widget", limit=1)   # the first answer tells the real size
        results = await asyncio.gather(*(widgets.list_all("Widget") for _ in range(4)))
    finally:
        await widgets.aclose()
    assert all(len(r) == len(WIDGETS) for r in results)
    assert vendor.refused == 0 and len(vendor.calls) == 1 + 4 * 3


async def test_a_concurrency_quota_keeps_that_many_calls_in_flight_at_most() -> None:
    vendor = QuotaVendor(limit=1000, window=1.0, latency=0.05)
    widgets = quota_api(vendor, "{model: concurrency, limit: 2}")
    try:
        results = await asyncio.gather(*(widgets.list_all("Widget") for _ in range(5)))
    finally:
        await widgets.aclose()
    assert all(len(r) == len(WIDGETS) for r in results) and len(vendor.calls) == 15
    assert vendor.most_flying == 2
