"""The entity cache as the resolvers see it: what is cached, under which key, and how staleness travels.

    loader = CachedLoader(cache, CONTACT, hubspot.batch_read)        # a DataLoader reading both tiers
    contact = await loader.load("151")                               # the record; a stale one is noted
    page = await cached_call(cache, ORDER_PAGE, (50, None), lambda k: shopify.list_orders(*k))

Keys hold the source's credentials scope (a hash of its base URL, tokens and account ids), never
the caller's roles: one cached record serves every role, and masks apply after the cache. A record
served stale because its source failed is reported (``harmonia.cache.stale``) in the resolver's own
task, so the schema edge can list it at the field's path.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from pydantic import BaseModel

from harmonia.cache.codec import RecordCodec
from harmonia.cache.entity import EntityCache, Fetch, Hit, Kind
from harmonia.cache.shared import RedisTier
from harmonia.cache.stale import Noted, StaleNote, report
from harmonia.errors import UpstreamError
from harmonia.observability.tracing import loader_span, span
from harmonia.settings import Settings, account_identity
from harmonia.shared_state import RedisTarget
from harmonia.sources import records
from harmonia.sources.declared.records import DeclaredRecord

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

CONTACT = Kind("hubspot", "contact", "contacts", "Customer")
CONTACT_BY_EMAIL = Kind("hubspot", "contact-by-email", "contacts", "Customer", by_id=False)
CONTACT_PAGE = Kind("hubspot", "contact-page", "contacts", "Customer", by_id=False)
SHOPIFY_CUSTOMER = Kind("shopify", "customer", "customers", "Customer", by_id=False)
SHOPIFY_CUSTOMER_BY_EMAIL = Kind("shopify", "customer-by-email", "customers", "Customer", by_id=False)
MEMBER = Kind("mailchimp", "member", "members", "Customer", by_id=False)
ORDER = Kind("shopify", "order", "orders", "Order")
ORDER_PAGE = Kind("shopify", "order-page", "orders", "Order", by_id=False)
CUSTOMER_ORDERS = Kind("shopify", "customer-orders", "orders", "Order", by_id=False)
ORDER_COUNT = Kind("shopify", "order-count", "orders", "Order", by_id=False)
ORDER_ATTRIBUTION = Kind("shopify", "order-attribution", "orders", "Order")
ORDER_LINE_ITEMS = Kind("shopify", "order-line-items", "orders", "Order")
MAILCHIMP_CAMPAIGN = Kind("mailchimp", "campaign", "campaigns", "Campaign")
MAILCHIMP_CAMPAIGN_PAGE = Kind("mailchimp", "campaign-page", "campaigns", "Campaign", by_id=False)
MAILCHIMP_ALL_CAMPAIGNS = Kind("mailchimp", "campaign-all", "campaigns", "Campaign", by_id=False)
MAILCHIMP_REPORT = Kind("mailchimp", "report", "reports", "Campaign")
ADS_CAMPAIGN = Kind("googleads", "campaign", "campaigns", "Campaign")
ADS_CAMPAIGN_LIST = Kind("googleads", "campaign-list", "campaigns", "Campaign", by_id=False)
ADS_METRICS = Kind("googleads", "metrics", "reports", "Campaign", by_id=False)
GA4_REPORT = Kind("ga4", "report", "analytics", "Analytics", by_id=False)

KINDS = (CONTACT, CONTACT_BY_EMAIL, CONTACT_PAGE, SHOPIFY_CUSTOMER, SHOPIFY_CUSTOMER_BY_EMAIL, MEMBER, ORDER,
         ORDER_PAGE, CUSTOMER_ORDERS, ORDER_COUNT, ORDER_ATTRIBUTION, ORDER_LINE_ITEMS, MAILCHIMP_CAMPAIGN,
         MAILCHIMP_CAMPAIGN_PAGE, MAILCHIMP_ALL_CAMPAIGNS, MAILCHIMP_REPORT, ADS_CAMPAIGN, ADS_CAMPAIGN_LIST,
         ADS_METRICS, GA4_REPORT)
GROUPS = ("Customer", "Order", "Campaign", "Analytics")

RECORD_TYPES = (records.Money, records.Page, records.Contact, records.ShopifyCustomer, records.LineItem,
                records.ShopifyOrder, records.OrderLineItems, records.OrderAttribution, records.MailchimpMember,
                records.MailchimpCampaign, records.MailchimpReportSummary, records.MailchimpReport,
                records.AdsCampaign, records.AdsMetrics, records.MetricHeader, records.ReportRow, records.Report,
                DeclaredRecord)


def credential_scope(source: BaseModel) -> str:
    """Everything textual about a source (base URL, tokens, OAuth client and refresh token, account ids,
    API version), hashed."""
    return hashlib.sha256(account_identity(source).encode("utf-8")).hexdigest()[:16]


def build_redis_tier(settings: Settings) -> RedisTier | None:
    """The shared tier when ``redis_url`` is set (persisted queries use it even with the cache off)."""
    target = RedisTarget.from_settings(settings)
    if target is None:
        return None
    return RedisTier(target, timeout=settings.cache.redis_timeout,
                     retry_after=settings.cache.redis_retry_after)


def build_entity_cache(settings: Settings, shared: RedisTier | None = None) -> EntityCache:
    s = settings.sources
    scopes = {name: credential_scope(getattr(s, name)) for name in ("hubspot", "shopify", "mailchimp", "ga4",
                                                                  "googleads")}
    if not settings.cache.enabled:
        shared = None
    # Only a source's failure falls back to a stale entry; bad input (a GA4 400) is the caller's.
    return EntityCache(settings.cache, scopes=scopes, codec=RecordCodec(RECORD_TYPES), shared=shared,
                       fallback_on=(UpstreamError,))


def ident(key: Any) -> str:
    """A cache id from a loader key: strings as they are, tuples joined, anything else by repr."""
    if isinstance(key, str):
        return key
    if isinstance(key, tuple):
        return "|".join("" if part is None else ident(part) for part in key)
    return repr(key)


def note(hit: Hit[Any]) -> None:
    if hit.stale_age is not None:
        report(StaleNote(hit.source, hit.stale_age))


HitBatch = Callable[[list[K]], Coroutine[Any, Any, list[Hit[V] | BaseException]]]


class HitLoader(Generic[K, V]):
    """A per-request DataLoader over hits: ``load`` answers the value and notes it where it was stale.

    The batch runs in whichever task dispatched it; the note must land in the awaiting resolver's.
    """

    def __init__(self, batch: HitBatch[K, V]) -> None:
        self._batch = batch
        self._made: DataLoader[K, Any] | None = None

    @property
    def _loader(self) -> DataLoader[K, Any]:
        # Built on first use: a request builds fourteen loaders and uses two or three, and
        # DataLoader's constructor inspects its batch function (measurable per request).
        if self._made is None:
            # aiodataloader rejects a key's load() when its batch answers an exception for it.
            self._made = DataLoader(self._batch)
        return self._made

    async def load(self, key: K) -> V:
        hit: Hit[V] = await self._loader.load(key)
        note(hit)
        return hit.value

    async def load_each(self, keys: Sequence[K | None]) -> list[V | Noted[V] | BaseException | None]:
        """Many keys at once, for a batched field: each answer is the value, the value with its stale
        note (``Noted``), or the exception that key's load failed with; a missing key (None, "")
        answers None without a load. No notes reach the collector."""
        loader = self._loader
        futures = [loader.load(key) if key else None for key in keys]
        answers: list[V | Noted[V] | BaseException | None] = []
        # One after another, not gather(): after the first answer the batch has settled the rest, and
        # awaiting a settled future does not suspend (gather added a callback and a result per key).
        for future in futures:
            if future is None:
                answers.append(None)
                continue
            try:
                hit: Hit[V] = await future
            except Exception as exc:
                answers.append(exc)
                continue
            stale = hit.stale_age
            answers.append(hit.value if stale is None else Noted(hit.value, [StaleNote(hit.source, stale)]))
        return answers

    def clear(self, key: K) -> None:
        """Forget one key (a write changed it): the next load asks the cache and source again."""
        self._loader.clear(key)

    def clear_all(self) -> None:
        self._loader.clear_all()

    def prime(self, key: K, value: V) -> None:
        """Answer ``key`` with what a write returned, without a re-read."""
        self._loader.clear(key)
        self._loader.prime(key, Hit(value))


class CachedLoader(HitLoader[K, V]):
    """A HitLoader whose batches read the entity cache first, then ask the source for the misses only."""

    def __init__(self, cache: EntityCache, kind: Kind, fetch: Fetch[K]) -> None:
        async def batch(keys: list[K]) -> list[Hit[V] | BaseException]:
            with loader_span(kind.source, kind.entity, len(keys)):
                return await cache.lookup_many(kind, keys, ident, fetch)

        super().__init__(batch)


async def cached_call(cache: EntityCache, kind: Kind, key: K, fetch_one: Callable[[K], Awaitable[V]]) -> V:
    """One upstream call through the cache (pages, lists, counts, reports)."""
    with span(f"cache {kind.source}.{kind.entity}", {"harmonia.source": kind.source, "harmonia.entity": kind.entity}):
        hit: Hit[V] = await cache.lookup(kind, key, ident, fetch_one)
    note(hit)
    return hit.value


def cached_pages(cache: EntityCache, kind: Kind,
                 fetch_page: Callable[[int, str | None], Awaitable[V]]) -> Callable[[int, str | None], Awaitable[V]]:
    """A source's page fetcher (``limit, cursor -> page``) through the cache, keyed by both."""

    async def fetch(limit: int, cursor: str | None) -> V:
        return await cached_call(cache, kind, (limit, cursor), lambda key: fetch_page(*key))

    return fetch


def each(fetch_one: Callable[[K], Awaitable[V]]) -> Fetch[K]:
    """For APIs without a batch endpoint: one call per key, concurrently (the pacers cap them)."""

    async def fetch(keys: list[K]) -> Mapping[K, V]:
        values = await asyncio.gather(*(fetch_one(k) for k in keys))
        return dict(zip(keys, values, strict=True))

    return fetch


async def evict(cache: EntityCache, group: str, local_id: str | None = None) -> int:
    """Evict a GraphQL type's records (``group``), or one of them by its local id, everywhere."""
    kinds: Sequence[Kind] = [k for k in KINDS if k.group == group]
    if local_id is None:
        return await cache.evict(kinds)
    ident_for_kinds = local_id
    if group == "Campaign":
        # Campaign ids carry their source ("mailchimp:abc"): only that source's by-id entries hold it.
        source, _, ident_for_kinds = local_id.partition(":")
        kinds = [k for k in kinds if not k.by_id or k.source == source]
    return await cache.evict(kinds, ident_for_kinds)


# What a write names (source, entity, key) -> the GraphQL type and local id whose entries to drop.
_WRITE_TARGETS = {
    ("hubspot", "contact"): ("Customer", ""),
    ("shopify", "customer"): ("Customer", ""),
    ("mailchimp", "member"): ("Customer", ""),
    ("mailchimp", "campaign"): ("Campaign", "mailchimp:"),
    ("googleads", "campaign"): ("Campaign", "googleads:"),
}


def shared_invalidation(cache: EntityCache) -> Callable[[str, str, str], Awaitable[None]]:
    """The hook writes call: evict what changed from both tiers on every instance."""

    async def invalidate(source: str, entity: str, key: str) -> None:
        target = _WRITE_TARGETS.get((source, entity))
        if target is None:
            await cache.evict(list(KINDS))  # unknown to the map: be safe, drop everything
            return
        group, prefix = target
        await evict(cache, group, prefix + key)

    return invalidate
