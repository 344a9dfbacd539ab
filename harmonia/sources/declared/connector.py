"""One generic connector for every declared API, on the same HTTP layer, pacing and circuit as the five.

    api = DeclaredAPI.build(declaration, configured_settings, transport=None)
    campaigns = await api.list_all("MetaCampaign")                       # every page, in order
    profiles = await api.batch("KlaviyoProfile", ["ada@example.com"])   # {key: DeclaredRecord}, one call per max_batch
    await api.aclose()

Paging follows the declaration: a cursor in the body sent back as a parameter, a next link in the body
or in the ``Link`` header, an offset, or a page token. A batch is split at the declared maximum and
the chunks are sent concurrently (the pacer decides how many run at once). An error body the
declaration reads as a quota refusal (``errors.rate_limited``; Meta answers 400 with error code 80004)
becomes ``UPSTREAM_RATE_LIMITED`` with the wait the API gave; any other refusal is
``UPSTREAM_UNAVAILABLE``. No upstream body or secret ever reaches an error message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import jmespath

from harmonia.credentials import Credential
from harmonia.credentials.credential import AuthHeader, StaticCredential
from harmonia.errors import UpstreamRateLimited, UpstreamUnavailable
from harmonia.settings import SourceSettings
from harmonia.sources._http import SourceHttp, build_client, read_json
from harmonia.sources.declared.model import Declaration, Endpoint, TypeDecl
from harmonia.sources.declared.quota import local_pacer, retry_after, shared_pacer
from harmonia.sources.declared.records import DeclaredRecord, RecordMapper
from harmonia.sources.declared.templates import render, require, setting_values
from harmonia.sources.pacing import Pacer
from harmonia.sources.shared import SharedRedis

log = logging.getLogger("harmonia.sources.declared")
PASSTHROUGH = (400, 404, 422)


class DeclaredAPI:
    """One declared source: its settings resolved, its client pooled, its types' mappers compiled."""

    def __init__(self, declaration: Declaration, values: Mapping[str, str], http: SourceHttp) -> None:
        self.declaration = declaration
        self.name = declaration.name
        self.values = dict(values)
        self.http = http
        self.mappers = {name: RecordMapper(self.name, name, decl, self.values, declaration.version)
                        for name, decl in declaration.types.items()}
        self._rate_limited = (jmespath.compile(declaration.errors.rate_limited)
                              if declaration.errors.rate_limited else None)
        # Cache and pacing keys: the declaration's name, base URL and every setting (secrets too), hashed.
        identity = "\n".join([declaration.name, self.base_url, *(f"{k}={v}" for k, v in sorted(self.values.items()))])
        self.account = hashlib.sha256(identity.encode()).hexdigest()[:12]

    @property
    def base_url(self) -> str:
        return str(self.http.client.base_url)

    @classmethod
    def build(cls, declaration: Declaration, configured: Mapping[str, Any] | None, *,
              transport: httpx.AsyncBaseTransport | None = None,
              credential: Credential | None = None) -> DeclaredAPI:
        """``configured``: ``HARMONIA_SOURCES__<NAME>__*`` as read into the settings (base_url, timeouts,
        the declaration's own settings); a setting without a value fails here, naming the variable."""
        given = dict(configured or {})
        values = setting_values(declaration, given)
        require(declaration, values)
        base = str(given.get("base_url") or declaration.base_url)
        transport_settings = SourceSettings(base_url=base, **{k: given[k] for k in (
            "connect_timeout", "read_timeout", "pool_timeout", "max_connections", "max_retries") if k in given})
        headers = {k: render(v, values, declaration.version) for k, v in declaration.headers.items()}
        client = build_client(transport_settings, headers=headers, transport=transport)
        pacer = local_pacer(declaration.quota) if declaration.quota is not None else None
        http = SourceHttp(declaration.name, client, pacer=pacer, max_retries=transport_settings.max_retries,
                          credential=credential or static_credential(declaration, values))
        return cls(declaration, values, http)

    def shared_pacer(self, shared: SharedRedis) -> Pacer | None:
        """The quota shared by every instance serving this account (``discipline.install``)."""
        quota, local = self.declaration.quota, self.http.pacer
        if quota is None or local is None:
            return None
        return shared_pacer(quota, shared, f"{self.name}:{self.account}", fallback=local,
                            lease_seconds=self.http.attempt_timeout + 5.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- reads --------------------------------------------------------------------------------

    def type(self, type_name: str) -> TypeDecl:
        return self.declaration.types[type_name]

    async def list_all(self, type_name: str, limit: int | None = None) -> list[DeclaredRecord]:
        """Every record the list endpoint has (or the first ``limit``), following its paging."""
        endpoint = self.type(type_name).list
        assert endpoint is not None
        mapper = self.mappers[type_name]
        items = await self._pages(endpoint, self._params(endpoint), limit)
        return [r for r in (mapper.record(item) for item in items) if r is not None]

    async def get(self, type_name: str, ids: Sequence[str]) -> dict[str, DeclaredRecord]:
        """Records by id through the get endpoint, one call each, concurrently (the pacer spaces them)."""
        endpoint = self.type(type_name).get
        assert endpoint is not None
        mapper = self.mappers[type_name]

        async def one(record_id: str) -> DeclaredRecord | None:
            response = await self._send(endpoint, render(endpoint.path, self.values, self.declaration.version,
                                                         id=record_id), self._params(endpoint, id=record_id))
            if response.status_code == 404:
                return None
            return mapper.record(self._body(response))

        found = await asyncio.gather(*(one(i) for i in dict.fromkeys(ids)))
        return {r.key: r for r in found if r is not None}

    async def batch(self, type_name: str, keys: Sequence[str], extra: Mapping[str, str] | None = None,
                    **variables: str) -> dict[str, DeclaredRecord]:
        """Records by key, ``max_batch`` keys a call; ``extra`` parameters join the endpoint's own."""
        decl = self.type(type_name)
        endpoint = decl.batch
        assert endpoint is not None and endpoint.max_batch is not None and endpoint.key is not None
        mapper = self.mappers[type_name]
        wanted = [k for k in dict.fromkeys(keys) if k]
        chunks = [wanted[i:i + endpoint.max_batch] for i in range(0, len(wanted), endpoint.max_batch)]
        key_of = jmespath.compile(endpoint.key)

        async def chunk(part: list[str]) -> list[Any]:
            params = self._params(endpoint, keys=part, **variables)
            for name, value in (extra or {}).items():
                params[name] = render(value, self.values, self.declaration.version, keys=part, **variables)
            return await self._pages(endpoint, params, None, keys=part)

        found: dict[str, DeclaredRecord] = {}
        asked = set(wanted)
        for items in await asyncio.gather(*(chunk(part) for part in chunks)):
            for item in items:
                key = mapper.key_of(key_of.search(item)) if isinstance(item, dict) else None
                record = mapper.record(item)
                if key is not None and key in asked and record is not None:
                    found[key] = record
        return found

    # --- the wire -----------------------------------------------------------------------------

    def _params(self, endpoint: Endpoint, *, keys: Sequence[str] = (), **variables: str) -> dict[str, str]:
        params = {name: render(value, self.values, self.declaration.version, keys=keys, **variables)
                  for name, value in endpoint.params.items()}
        auth = self.declaration.auth
        if auth.kind == "api_key_query" and auth.param and auth.token:
            params[auth.param] = render(auth.token, self.values, self.declaration.version)
        if endpoint.paging is not None and endpoint.paging.size_param:
            params.setdefault(endpoint.paging.size_param, str(endpoint.paging.max_page_size))
        return params

    async def _pages(self, endpoint: Endpoint, params: dict[str, str], limit: int | None,
                     keys: Sequence[str] = ()) -> list[Any]:
        paging = endpoint.paging
        path = render(endpoint.path, self.values, self.declaration.version, keys=keys)
        items: list[Any] = []
        next_url: str | None = None
        for page in range(paging.max_pages if paging is not None else 1):
            if next_url is not None:
                response = await self._send(endpoint, next_url, None)
            else:
                response = await self._send(endpoint, path, params)
            body = self._body(response) if response.status_code != 404 else None
            found = jmespath.search(endpoint.items, body) if endpoint.items else body
            items.extend(found if isinstance(found, list) else [found] if found is not None else [])
            if paging is None or (limit is not None and len(items) >= limit):
                break
            follow = self._next(paging, body, response, params, len(found) if isinstance(found, list) else 0)
            if follow is None:
                break
            next_url, params = follow
            if page == paging.max_pages - 1:
                log.warning("%s: stopped after %d pages of %s", self.name, paging.max_pages, endpoint.path)
        return items if limit is None else items[:limit]

    def _next(self, paging: Any, body: Any, response: httpx.Response, params: dict[str, str],
              count: int) -> tuple[str | None, dict[str, str]] | None:
        """(a next URL, or None with the next parameters); None when this was the last page."""
        if paging.style in ("cursor", "page_token"):
            cursor = jmespath.search(paging.cursor, body)
            return (None, {**params, paging.param: str(cursor)}) if cursor else None
        if paging.style == "next_link":
            link = jmespath.search(paging.next, body)
            return (self._same_origin(link), params) if isinstance(link, str) and link else None
        if paging.style == "link_header":
            link = response.links.get("next", {}).get("url")
            return (self._same_origin(link), params) if link else None
        # offset: a short page is the last one
        if count < paging.max_page_size:
            return None
        offset = int(params.get(paging.param, "0") or 0) + count
        return None, {**params, paging.param: str(offset)}

    def _same_origin(self, link: str) -> str:
        """A next link is followed only on the declared API: its path and query, on our base URL (which
        may be a proxy or the simulators), never a host the body names."""
        url = httpx.URL(link)
        base = self.http.client.base_url
        path = url.path
        if base.path and base.path != "/" and not path.startswith(base.path.rstrip("/")):
            path = base.path.rstrip("/") + path
        return str(base.copy_with(path=path, query=url.query or None))

    async def _send(self, endpoint: Endpoint, path_or_url: str, params: Mapping[str, str] | None) -> httpx.Response:
        headers = {k: render(v, self.values, self.declaration.version) for k, v in endpoint.headers.items()}
        if path_or_url.startswith(("http://", "https://")):
            base = str(self.http.client.base_url).rstrip("/")
            path_or_url = path_or_url[len(base):] if path_or_url.startswith(base) else path_or_url
        response = await self.http.request(endpoint.method, path_or_url, params=params or None,
                                           headers=headers or None, idempotent=True, passthrough=PASSTHROUGH)
        if response.status_code in (400, 422):
            self._refused(response)
        return response

    def _refused(self, response: httpx.Response) -> None:
        body: Any = None
        with contextlib.suppress(ValueError):
            body = read_json(response)
        if self._rate_limited is not None and body is not None and self._rate_limited.search(body) is True:
            wait = retry_after(self.declaration.quota.follow if self.declaration.quota else None, response.headers)
            raise UpstreamRateLimited(self.name, f"{self.name} quota reached", retry_after=wait)
        raise UpstreamUnavailable(self.name, f"{self.name} rejected the request ({response.status_code})")

    def _body(self, response: httpx.Response) -> Any:
        try:
            return read_json(response)
        except ValueError:
            raise UpstreamUnavailable(self.name, f"{self.name} answered something other than JSON") from None


def static_credential(declaration: Declaration, values: Mapping[str, str]) -> Credential | None:
    """The header a pasted key or token goes in (renewing OAuth credentials: ``credentials.declared_credential``)."""
    auth, version = declaration.auth, declaration.version
    if auth.kind == "bearer" and auth.token:
        return StaticCredential(declaration.name, render(auth.token, values, version),
                                AuthHeader(auth.header or "Authorization", "Bearer "))
    if auth.kind == "api_key_header" and auth.token and auth.header:
        return StaticCredential(declaration.name, render(auth.token, values, version),
                                AuthHeader(auth.header, auth.prefix))
    if auth.kind == "basic" and auth.username is not None and auth.password is not None:
        pair = f"{render(auth.username, values, version)}:{render(auth.password, values, version)}"
        return StaticCredential(declaration.name, base64.b64encode(pair.encode()).decode(),
                                AuthHeader("Authorization", "Basic "))
    return None
