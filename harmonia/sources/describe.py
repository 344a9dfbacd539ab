"""What the catalogue says about one source: a small typed record built from what the connector knows.

    description = await describe("shopify", sources.shopify, settings.sources.shopify)
    description.quota.headroom, description.circuit, description.api_version
    publish(sources.items(), settings)     # the quotas and circuits on /metrics, once at startup

Version and end of support come from ``sources/versions.py``; credential kind, expiry and scopes
from the source's ``harmonia.credentials`` credential (``_versions`` and ``_credentials`` below).
Quota headroom is the pacer's own view, which follows what the API says (HubSpot's window headers,
Shopify's throttle status); Google Ads and the concurrency caps of Mailchimp and GA4 have no
header, so it is Harmonia's own count. A pacer may describe itself with a ``quota_view() ->
QuotaView`` method (the plug point for new pacers).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from harmonia.observability.metrics import register_circuit, register_quota
from harmonia.settings import Settings, SourceSettings
from harmonia.sources.versions import CURRENT, support_of

UNKNOWN = "unknown"
VENDORS = {"hubspot": "HubSpot CRM", "shopify": "Shopify Admin API", "mailchimp": "Mailchimp Marketing API",
           "ga4": "Google Analytics 4 Data API", "googleads": "Google Ads API"}


@dataclass(frozen=True, slots=True)
class QuotaView:
    name: str                          # requests_per_window, cost_points, requests_per_second, concurrent_requests
    description: str                   # "100 requests per 10 s"
    limit: float
    unit: str                          # requests, cost points, concurrent requests
    period_seconds: float | None       # None for a concurrency cap
    allowance_per_second: float | None
    headroom: float | None             # 0..1 left now; None: not known


@dataclass(frozen=True, slots=True)
class SourceDescription:
    name: str
    vendor: str
    base_url: str                      # scheme, host and path: never a credential or query string
    api_version: str
    end_of_support: str
    credential_kind: str
    credential_expires: str
    scopes: tuple[str, ...]
    quota: QuotaView | None
    circuit: str                       # closed, open, half_open


def _pacer(connector: Any) -> Any:
    # Shopify's GraphQL client paces by query cost (sources/shopify_pacing.py); the others in the HTTP layer.
    pacer = getattr(getattr(connector, "admin", None), "pacer", None) or getattr(connector.http, "pacer", None)
    return getattr(pacer, "fallback", pacer)  # a shared pacer's in-process twin follows the same headers


def quota_view(name: str, connector: Any, settings: SourceSettings | None) -> QuotaView | None:
    """The quota the pacer keeps: its own ``quota_view()`` when it has one, else read from the pacers of
    ``sources/pacing.py``; None for a pacer it does not know (never an error: the catalogue and
    /metrics must not fail because a pacer changed)."""
    pacer = _pacer(connector)
    if pacer is None:
        return None
    own = getattr(pacer, "quota_view", None)
    try:
        if callable(own):
            view = own()
            return view if isinstance(view, QuotaView) else None
        return _read_pacer(pacer, settings)
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        return None


def _read_pacer(pacer: Any, settings: SourceSettings | None) -> QuotaView | None:
    now = time.monotonic()
    status = getattr(pacer, "status", None)
    if callable(status):                                              # CostPacer (Shopify's throttle status)
        s = status()
        return QuotaView("cost_points", f"{s.maximum:,.0f} cost points, {s.restore_rate:,.0f} restored per second",
                         s.maximum, "cost points", s.maximum / s.restore_rate, s.restore_rate,
                         s.available / s.maximum)
    if hasattr(pacer, "window") and hasattr(pacer, "limit"):           # WindowPacer (HubSpot)
        used = pacer.used(now)
        return QuotaView("requests_per_window", f"{pacer.limit} requests per {pacer.window:g} s", pacer.limit,
                         "requests", pacer.window, pacer.limit / pacer.window, 1 - used / max(1, pacer.limit))
    if hasattr(pacer, "leak") and hasattr(pacer, "size"):              # LeakyBucketPacer (Shopify)
        level = max(0.0, pacer._level - (now - pacer._stamp) * pacer.leak)
        return QuotaView("bucket", f"bucket of {pacer.size}, {pacer.leak:g} per second", pacer.size, "requests",
                         pacer.size / pacer.leak, pacer.leak, 1 - level / max(1, pacer.size))
    if hasattr(pacer, "capacity") and hasattr(pacer, "rate"):          # TokenBucketPacer (Google Ads)
        tokens = min(pacer.capacity, pacer._tokens + (now - pacer._stamp) * pacer.rate)
        return QuotaView("requests_per_second", f"{pacer.rate:g} requests per second", pacer.rate, "requests", 1.0,
                         pacer.rate, tokens / max(1e-9, pacer.capacity))
    running = getattr(pacer, "_running", None)                       # ConcurrencyPacer (Mailchimp, GA4)
    if running is not None and hasattr(pacer, "limit"):
        limit = pacer.limit  # learned from GA4's concurrentRequests, else the configured cap
        return QuotaView("concurrent_requests", f"{limit} requests at once", limit, "concurrent requests", None,
                         None, max(0.0, 1 - len(running) / max(1, limit)))
    return None


def _versions(name: str, settings: SourceSettings) -> tuple[str, str]:
    """(API version, end of support) from ``sources/versions.py``: ``~`` marks a date the vendor has not
    published yet; "none announced" an API with no end in sight."""
    version = str(getattr(settings, "api_version", CURRENT.get(name, UNKNOWN)))
    support = support_of(name, version)
    if not support.known:
        return version, "unknown version"
    if support.ends is None:
        return version, "none announced"
    return version, ("~" if support.estimated else "") + support.ends.isoformat()


def _credentials(name: str, connector: Any) -> tuple[str, str, tuple[str, ...]]:
    """(credential kind, expiry, scopes) from the source's ``harmonia.credentials`` credential (Mailchimp's
    API key is no such credential). Scopes: what the token endpoint granted, or what Shopify reports."""
    credential = getattr(connector.http, "credential", None)
    if credential is None:
        return ("api_key" if name == "mailchimp" else "static"), "never", ()
    token = getattr(credential, "current", None)
    if credential.kind == "static":
        expires = "never"
    elif token is None:
        expires = "not issued yet"
    elif token.expires_at is None:
        expires = "never"
    else:
        expires = datetime.fromtimestamp(token.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    scopes = set(token.scopes) if token is not None else set()
    scopes |= set(getattr(connector, "scopes", None) or ())  # Shopify's access scopes, as the shop says
    return credential.kind, expires, tuple(sorted(scopes))


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


async def describe(name: str, connector: Any, settings: SourceSettings | None) -> SourceDescription:
    """A built-in source with its settings, or a declared one (``settings`` None: its declaration says)."""
    circuit = getattr(connector.http, "circuit", None)
    state = await circuit.state() if circuit is not None else "closed"
    declaration = getattr(connector, "declaration", None)
    if settings is None and declaration is not None:
        vendor = f"{declaration.title or name} (declared)"
        version, end = declaration.version or UNKNOWN, declaration.supported_until or "none announced"
        base_url = str(connector.base_url)
    else:
        assert settings is not None
        vendor, base_url = VENDORS.get(name, name), settings.base_url
        version, end = _versions(name, settings)
    kind, expires, scopes = _credentials(name, connector)
    return SourceDescription(name, vendor, _public_url(base_url), version, end, kind,
                             expires, scopes, quota_view(name, connector, settings), state)


def publish(connectors: Iterable[tuple[str, Any]], settings: Settings,
            circuit_states: dict[str, str]) -> None:
    """Each source's quota and circuit on /metrics (``circuit_states`` is kept fresh by the app's watcher)."""
    for name, connector in connectors:
        found = getattr(settings.sources, name, None)
        source_settings = found if isinstance(found, SourceSettings) else None   # None: a declared source
        view = quota_view(name, connector, source_settings)
        if view is not None:
            def headroom(n: str = name, c: Any = connector, s: SourceSettings | None = source_settings
                         ) -> float | None:
                current = quota_view(n, c, s)
                return current.headroom if current is not None else None
            # Calls are the units of a request quota; cost points and tokens are reported by their pacer.
            register_quota(name, view.name, allowance_per_second=view.allowance_per_second, headroom=headroom,
                           counts_requests=view.unit == "requests")
        register_circuit(name, lambda n=name: circuit_states.get(n) == "open")  # type: ignore[misc]
        meter = getattr(connector, "quota", None)
        for quota, limit, period in _token_quotas(source_settings):
            def left(m: Any = meter, q: str = quota, total: float = limit) -> float | None:
                remaining = getattr(m, "remaining", {}).get(q)
                return remaining / total if remaining is not None else None
            register_quota(name, quota, allowance_per_second=limit / period, headroom=left, counts_requests=False)


def _token_quotas(settings: SourceSettings | None) -> list[tuple[str, float, float]]:
    """GA4's token quotas as (propertyQuota name, tokens, period in seconds); none for the others."""
    per_hour, per_day = getattr(settings, "tokens_per_hour", None), getattr(settings, "tokens_per_day", None)
    if per_hour is None or per_day is None:
        return []
    return [("tokensPerHour", per_hour, 3600.0), ("tokensPerDay", per_day, 86400.0)]
