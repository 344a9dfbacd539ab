"""What the resilience tests share: the test Redis, and forgetting the upstream state kept in it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis


def redis_url() -> str:
    url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the tests through scripts/with-redis.sh (make test)")
    return url


async def forget_upstream_state(url: str) -> None:
    client = redis.from_url(url)
    try:
        for pattern in ("harmonia:circuit:*", "harmonia:pace:*", "harmonia:slots:*", "harmonia:ga4quota:*"):
            keys = [key async for key in client.scan_iter(match=pattern)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def shared_url() -> AsyncIterator[str]:
    url = redis_url()
    await forget_upstream_state(url)
    yield url
    await forget_upstream_state(url)
