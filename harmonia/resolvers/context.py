"""What a resolver works with: the process-wide source connectors and the per-request loaders.

    sources = Sources.from_settings(settings)                  # once, at startup
    ctx = RequestContext(sources, principal, settings, cache=cache)   # once per operation
    contact = await ctx.loaders.contact_by_id.load("151")
    ctx.note_stale(["customer", "orders"], notes)              # -> extensions.stale
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx

from harmonia.auth.admin import AdminPlane
from harmonia.auth.policy import FieldAccess, Policy
from harmonia.auth.policy_file import DEMO_POLICY
from harmonia.auth.principal import Principal
from harmonia.cache.entity import EntityCache
from harmonia.cache.stale import StaleNote, summarize
from harmonia.resolvers.cached import build_entity_cache
from harmonia.resolvers.loaders import Loaders
from harmonia.resolvers.write_services import WriteServices
from harmonia.settings import Settings
from harmonia.shared_state import PATIENT, RedisTarget
from harmonia.sources.credentialed import credentials_for
from harmonia.sources.declared.loader import EMPTY, DeclaredSet
from harmonia.sources.declared.registry import DeclaredSources
from harmonia.sources.discipline import install as install_discipline
from harmonia.sources.ga4 import GA4Property
from harmonia.sources.googleads import GoogleAdsAccount
from harmonia.sources.hubspot import HubSpotContacts
from harmonia.sources.mailchimp import MailchimpAccount
from harmonia.sources.shared import SharedRedis
from harmonia.sources.shopify import ShopifyStore

Transports = Mapping[str, httpx.AsyncBaseTransport]


@dataclass
class Sources:
    """One connector (one pooled client) per SaaS, for the life of the process."""

    hubspot: HubSpotContacts
    shopify: ShopifyStore
    mailchimp: MailchimpAccount
    ga4: GA4Property
    googleads: GoogleAdsAccount
    shared: SharedRedis | None = None  # circuit and pacing state shared with other instances
    redis: SharedRedis | None = None         # the Redis of pacing and circuits (short timeouts)
    credential_redis: SharedRedis | None = None  # the Redis of credentials (patient: renewals are rare)
    # The declared sources (HARMONIA_SOURCES_DIR), replaced whole when a new set is applied at run time.
    declared: DeclaredSources = field(default_factory=DeclaredSources)

    @classmethod
    def from_settings(cls, settings: Settings, transports: Transports | None = None,
                      declared: DeclaredSet = EMPTY) -> Sources:
        """``transports`` maps a source name to a transport (tests hand in the simulators' ASGI app);
        ``declared``: the declarations in force (``harmonia.sources.declared.loader``)."""
        t = dict(transports or {})
        s = settings.sources
        target = RedisTarget.from_settings(settings)
        redis = SharedRedis.connect(target)
        # Its own connection, with patience: a renewal that gave up on a slow Redis would renew without the
        # shared lock and chain, and a Shopify refresh token is single-use. Used even without shared_state.
        credential_redis = SharedRedis.connect(target, use=PATIENT, what="credentials")
        creds = credentials_for(settings, t, credential_redis)
        sources = cls(
            hubspot=HubSpotContacts.from_settings(s.hubspot, transport=t.get("hubspot"), credential=creds["hubspot"]),
            shopify=ShopifyStore.from_settings(s.shopify, transport=t.get("shopify")),
            mailchimp=MailchimpAccount.from_settings(s.mailchimp, transport=t.get("mailchimp")),
            ga4=GA4Property.from_settings(s.ga4, transport=t.get("ga4"), credential=creds["ga4"]),
            googleads=GoogleAdsAccount.from_settings(s.googleads, transport=t.get("googleads"),
                                                     credential=creds["googleads"]),
            redis=redis,
            credential_redis=credential_redis,
        )
        # Shopify's connector takes its X-Shopify-Access-Token from the credential on every call.
        sources.shopify.http.credential = creds["shopify"]
        sources.shared = install_discipline(sources.items(), settings,
                                            redis if settings.upstream.shared_state else None)
        sources.declared = sources.build_declared(declared, settings, t)
        return sources

    def build_declared(self, found: DeclaredSet, settings: Settings, transports: Transports | None = None
                       ) -> DeclaredSources:
        """The declared sources of ``found`` on this process's Redis, fitted with circuits and pacing as
        the built-in five are (also for a set applied at run time)."""
        declared = DeclaredSources.build(found, settings, transports,
                                         self.credential_redis.client if self.credential_redis else None)
        install_discipline(list(declared.apis.items()), settings,
                           self.redis if settings.upstream.shared_state else None)
        return declared

    def items(self) -> list[tuple[str, Any]]:
        return [("hubspot", self.hubspot), ("shopify", self.shopify), ("mailchimp", self.mailchimp),
                ("ga4", self.ga4), ("googleads", self.googleads), *self.declared.apis.items()]

    async def aclose(self) -> None:
        await asyncio.gather(*(connector.aclose() for _, connector in self.items()))
        for connection in (self.redis, self.credential_redis):
            if connection is not None:
                await connection.aclose()


@dataclass
class RequestContext:
    """Per operation: never shared between requests, so loader caches never leak between users."""

    sources: Sources
    principal: Principal
    settings: Settings
    extensions: dict[str, Any] = field(default_factory=dict)

    policy: Policy = DEMO_POLICY      # the effective policy this operation was planned under
    admin: AdminPlane | None = None   # the policy admin plane (its resolvers check the caller is an admin)
    # Process-wide; the default (a fresh, private cache) serves code that builds a context by hand.
    cache: EntityCache | None = None
    writes: WriteServices | None = None    # idempotency, erasure jobs, shared-cache eviction (mutations)
    idempotency_key: str | None = None     # the request's Idempotency-Key header

    def __post_init__(self) -> None:
        if self.cache is None:
            self.cache = build_entity_cache(self.settings.model_copy(update={"redis_url": None}))

    def note_stale(self, path: list[str | int], notes: list[StaleNote]) -> None:
        """List a field answered from stale records (their source failed) in ``extensions.stale``."""
        stale: list[dict[str, Any]] = self.extensions.setdefault("stale", [])
        for n in summarize(notes):
            stale.append({"path": path, "ageSeconds": round(n.age, 1), "source": n.source})

    def warn(self, code: str, path: list[str | int], **details: str) -> None:
        """List a caveat on the answer in ``extensions.warnings``: one entry per code, with every path it
        concerns (e.g. SHOPIFY_ORDERS_WINDOW on each order field)."""
        warnings: list[dict[str, Any]] = self.extensions.setdefault("warnings", [])
        entry = next((w for w in warnings if w["code"] == code), None)
        if entry is None:
            entry = {"code": code, **details, "paths": []}
            warnings.append(entry)
        if path not in entry["paths"]:
            entry["paths"].append(path)

    @cached_property
    def access(self) -> FieldAccess:
        """For resolvers that must decide inside (reads are decided before execution, per operation)."""
        return self.policy.access_for(self.principal.roles, self.principal.scopes)

    @cached_property
    def loaders(self) -> Loaders:
        assert self.cache is not None
        return Loaders(self.sources, self.cache)

    async def invalidate(self, source: str, entity: str, key: str) -> None:
        """A write changed ``(source, entity, key)``: this request's next read refetches it, and the
        shared cache tiers evict it on every instance (``WriteServices.shared_invalidation``)."""
        if "loaders" in self.__dict__:
            self.loaders.forget(source, entity, key)
        if self.writes is not None:
            await self.writes.invalidate_shared(source, entity, key)

