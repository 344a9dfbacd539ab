"""The declared sources in force: one ``DeclaredAPI`` per declaration, and what each adds to the schema.

    declared = DeclaredSources.build(found, settings, transports)     # at startup, and on every apply
    declared.customer_fields       # [(api, CustomerExtension)]: Customer.klaviyoProfile, ...
    declared.campaign_lists        # [(api, CampaignsExtension)]: campaigns under SOCIAL, ...
    await declared.aclose()

Settings come from ``HARMONIA_SOURCES__<NAME>__<KEY>`` (``settings.sources`` keeps them as extras);
renewing OAuth credentials are the built-in sources' own (``harmonia.credentials``), with their token
kept in Redis when one is configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from harmonia.credentials import Credential
from harmonia.credentials.credential import AuthHeader
from harmonia.credentials.endpoint import TokenEndpoint
from harmonia.credentials.grants import ClientCredentialsGrant, Grant, RefreshTokenGrant
from harmonia.credentials.renewing import RenewingCredential
from harmonia.credentials.sealed import Sealer
from harmonia.credentials.store import MemoryTokenStore, RedisTokenStore, TokenStore
from harmonia.settings import Settings
from harmonia.shared_state import Client
from harmonia.sources.declared.connector import DeclaredAPI
from harmonia.sources.declared.loader import EMPTY, DeclaredSet
from harmonia.sources.declared.model import CampaignsExtension, CustomerExtension, Declaration
from harmonia.sources.declared.templates import render, setting_values


@dataclass
class DeclaredSources:
    found: DeclaredSet = EMPTY
    apis: dict[str, DeclaredAPI] = field(default_factory=dict)

    @classmethod
    def build(cls, found: DeclaredSet, settings: Settings,
              transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
              redis_client: Client | None = None) -> DeclaredSources:
        extras: dict[str, Any] = settings.sources.model_extra or {}
        apis: dict[str, DeclaredAPI] = {}
        for d in found.declarations:
            configured = extras.get(d.name) if isinstance(extras.get(d.name), dict) else {}
            transport = (transports or {}).get(d.name)
            credential = _renewing(d, setting_values(d, configured), transport, redis_client)
            apis[d.name] = DeclaredAPI.build(d, configured, transport=transport, credential=credential)
        return cls(found, apis)

    @property
    def customer_fields(self) -> list[tuple[DeclaredAPI, CustomerExtension]]:
        return [(api, ext) for api in self.apis.values() for ext in api.declaration.extends.customer]

    @property
    def campaign_lists(self) -> list[tuple[DeclaredAPI, CampaignsExtension]]:
        return [(api, ext) for api in self.apis.values() for ext in api.declaration.extends.campaigns]

    def campaigns_of(self, source: str) -> tuple[DeclaredAPI, CampaignsExtension] | None:
        return next(((a, e) for a, e in self.campaign_lists if a.name == source), None)

    async def aclose(self) -> None:
        await asyncio.gather(*(api.aclose() for api in self.apis.values()))


def _renewing(d: Declaration, values: Mapping[str, str], transport: httpx.AsyncBaseTransport | None,
              redis_client: Client | None) -> Credential | None:
    auth = d.auth
    if auth.kind not in ("oauth_refresh_token", "oauth_client_credentials"):
        return None

    def value(template: str | None) -> str:
        return render(template or "", values, d.version)

    secret = value(auth.client_secret)
    refresh = value(auth.refresh_token) if auth.kind == "oauth_refresh_token" else None
    grant: Grant = (RefreshTokenGrant(value(auth.client_id), secret) if refresh
                    else ClientCredentialsGrant(value(auth.client_id), secret))
    url = value(auth.token_url)
    cid = f"declared:{d.name}:{value(auth.client_id)}"
    store: TokenStore = (RedisTokenStore(redis_client, cid, Sealer(secret or cid, context=cid))
                         if redis_client is not None else MemoryTokenStore())
    client = httpx.AsyncClient(transport=transport, follow_redirects=False)
    return RenewingCredential(d.name, grant, TokenEndpoint(d.name, url, client), store, header=AuthHeader(),
                              refresh_token=refresh)
