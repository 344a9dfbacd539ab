"""A declared quota as the pacers the built-in sources use, following the headers the declaration names.

    pacer = local_pacer(declaration.quota)                  # in process
    pacer = shared_pacer(declaration.quota, shared, key, fallback=pacer, lease_seconds=15)  # every instance

``fixed_window`` is HubSpot's ``WindowPacer`` / ``SharedWindow`` reading the declared headers instead of
HubSpot's: a limit, what remains, when the window turns; or a share of the quota spent (Meta's
``X-Business-Use-Case-Usage`` is JSON, read with a JMESPath), and minutes until a throttled account may
call again (then nothing remains). ``token_bucket`` and ``leaky_bucket`` meter calls at ``rate`` per
second up to ``limit`` (a leaky bucket drains at its rate: the same meter), and ``concurrency`` caps
calls in flight. The configured numbers are where pacing starts, never a cap.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import jmespath
import orjson

from harmonia.sources.declared.model import HeaderReading, Quota, QuotaHeaders
from harmonia.sources.pacing import ConcurrencyPacer, Pacer, TokenBucketPacer, WindowPacer, WindowReader, WindowReading
from harmonia.sources.shared import SharedRedis
from harmonia.sources.shared_pacing import SharedSemaphore, SharedTokenBucket
from harmonia.sources.shared_window import SharedWindow


def read_number(reading: HeaderReading | None, headers: httpx.Headers) -> float | None:
    """The header as a number, or its JSON through the reading's JMESPath; None when absent or unreadable."""
    if reading is None:
        return None
    raw = headers.get(reading.header)
    if raw is None:
        return None
    value: Any = raw
    try:
        if reading.select is not None:
            value = jmespath.search(reading.select, orjson.loads(raw))
        number = float(value)
    except (ValueError, TypeError, jmespath.exceptions.JMESPathError):
        return None  # a header we cannot read says nothing, rather than something wrong
    return number if math.isfinite(number) else None


def window_reader(follow: QuotaHeaders | None) -> WindowReader:
    def read(headers: httpx.Headers, limit: int) -> WindowReading:
        if follow is None:
            return WindowReading()
        size = read_number(follow.limit, headers)
        current = int(size) if size is not None and size > 0 else limit
        remaining = read_number(follow.remaining, headers)
        used = read_number(follow.used_percent, headers)
        if remaining is None and used is not None:
            remaining = current * max(0.0, 100.0 - used) / 100.0
        regain = read_number(follow.regain_minutes, headers)
        if regain is not None and regain > 0:
            remaining = 0.0  # throttled until then: no call goes before the window turns
        # reset_seconds says when this window turns, not how long windows are: it only times retries.
        return WindowReading(int(size) if size is not None and size > 0 else None,
                             max(0, int(remaining)) if remaining is not None else None)

    return read


def retry_after(follow: QuotaHeaders | None, headers: httpx.Headers) -> float | None:
    """Seconds to wait before calling again, when the answer says (a throttled account's regain time)."""
    if follow is None:
        return None
    minutes = read_number(follow.regain_minutes, headers)
    if minutes is not None and minutes > 0:
        return minutes * 60.0
    seconds = read_number(follow.reset_seconds, headers)
    remaining = read_number(follow.remaining, headers)
    return seconds if seconds is not None and remaining is not None and remaining <= 0 else None


def local_pacer(quota: Quota) -> Pacer:
    if quota.model == "fixed_window":
        return WindowPacer(int(quota.limit), quota.window_seconds, headroom=quota.headroom,
                           reader=window_reader(quota.follow))
    if quota.model == "concurrency":
        return ConcurrencyPacer(int(quota.limit))
    return TokenBucketPacer(quota.limit, quota.rate or quota.limit)


def shared_pacer(quota: Quota, shared: SharedRedis, key: str, *, fallback: Pacer, lease_seconds: float) -> Pacer:
    if quota.model == "fixed_window":
        return SharedWindow(shared, key, limit=int(quota.limit), window=quota.window_seconds,
                            lease_seconds=lease_seconds, fallback=fallback, headroom=quota.headroom,
                            reader=window_reader(quota.follow))
    if quota.model == "concurrency":
        return SharedSemaphore(shared, key, limit=int(quota.limit), lease_seconds=lease_seconds, fallback=fallback)
    follow = quota.follow

    def correction(response: httpx.Response) -> float | None:
        return read_number(follow.remaining, response.headers) if follow is not None else None

    return SharedTokenBucket(shared, key, capacity=quota.limit, rate=quota.rate or quota.limit, fallback=fallback,
                             correction=correction)
