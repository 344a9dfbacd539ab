"""Fit every source's HTTP layer with its circuit breaker and its pacing, shared through Redis when set.

    shared = install(sources.items(), settings, SharedRedis.connect(url))   # once, at startup
    await circuit_of(sources.shopify).state()       # "closed" | "open" | "half_open"

Pacing sized to each SaaS's documented quota, minus a little headroom for other clients:
HubSpot's window (100 per 10 s until its headers say otherwise,
then what they say, up or down: ``shared_window``), Google Ads' per-customer bucket, and the
concurrency caps of Mailchimp (10 connections) and GA4 (10 concurrent requests until its
``propertyQuota`` says how many are free, up or down); GA4's token quotas are metered from its answers
(``ga4_quota``), their refusals shared too. Each connector's own in-process pacer stays as the
fallback when Redis is absent or down. Shopify paces itself by query cost (``shopify_pacing``) and
is handed the shared Redis to keep its bucket there (``share_pacing``). State keys carry a digest of
the base URL and credentials: quotas belong to an account, and two gateways on one Redis may serve
different accounts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Protocol

from harmonia.settings import Settings, SourceSettings, account_identity
from harmonia.sources._http import SourceHttp
from harmonia.sources.circuit import Circuit, CircuitPolicy
from harmonia.sources.ga4 import free_slots
from harmonia.sources.ga4_quota import PropertyQuotaMeter
from harmonia.sources.pacing import Pacer
from harmonia.sources.shared import SharedRedis
from harmonia.sources.shared_pacing import SharedSemaphore, SharedTokenBucket
from harmonia.sources.shared_window import SharedWindow

HEADROOM = 2


class Connector(Protocol):
    http: SourceHttp


def install(connectors: Iterable[tuple[str, Connector]], settings: Settings,
            shared: SharedRedis | None) -> SharedRedis | None:
    """``shared``: the Redis that pacing and circuits share (None: each process on its own)."""
    up = settings.upstream
    policy = CircuitPolicy(failure_threshold=up.circuit_failure_threshold, failure_window=up.circuit_failure_window,
                           reset_seconds=up.circuit_reset_seconds)
    for name, connector in connectors:
        http = connector.http
        source_settings: SourceSettings = getattr(settings.sources, name)
        account = _account(source_settings)
        # A probe slower than one attempt may be given up: let another call probe then.
        http.circuit = Circuit(name, replace(policy, probe_seconds=http.attempt_timeout), shared, account=account)
        if shared is not None and http.pacer is not None:
            http.pacer = _shared_pacer(name, f"{name}:{account}", source_settings, http, shared)
        quota = getattr(connector, "quota", None)
        if isinstance(quota, PropertyQuotaMeter):
            quota.share(shared, account)  # GA4's spent token quotas stop every instance
        share = getattr(connector, "share_pacing", None)
        if shared is not None and callable(share):
            share(shared, account)  # a connector that paces itself (Shopify's cost bucket) shares its state
    return shared


def circuit_of(connector: Connector) -> Circuit | None:
    return connector.http.circuit


def _account(settings: SourceSettings) -> str:
    return hashlib.sha256(account_identity(settings).encode()).hexdigest()[:12]


def _shared_pacer(name: str, key: str, s: Any, http: SourceHttp, shared: SharedRedis) -> Pacer:
    fallback = http.pacer
    assert fallback is not None
    lease_seconds = http.attempt_timeout + 5.0
    if name == "hubspot":
        return SharedWindow(shared, key, limit=s.requests_per_window, window=s.window_seconds,
                            lease_seconds=lease_seconds, fallback=fallback, headroom=HEADROOM)
    if name == "googleads":
        return SharedTokenBucket(shared, key, capacity=s.requests_per_second, rate=s.requests_per_second,
                                 fallback=fallback)
    return SharedSemaphore(shared, key, limit=s.max_concurrency, lease_seconds=lease_seconds, fallback=fallback,
                           free_slots=free_slots if name == "ga4" else None)


