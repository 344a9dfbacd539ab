"""The Redis-backed pacers and circuit, with two clients standing for two gateway processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from harmonia.errors import UpstreamUnavailable
from harmonia.sources.circuit import Circuit, CircuitPolicy, is_open
from harmonia.sources.pacing import ConcurrencyPacer, TokenBucketPacer
from harmonia.sources.shared import SharedRedis
from harmonia.sources.shared_pacing import SharedSemaphore, SharedTokenBucket
from tests.resilience.conftest import forget_upstream_state, redis_url


@pytest.fixture
async def two_processes() -> AsyncIterator[tuple[SharedRedis, SharedRedis]]:
    url = redis_url()
    await forget_upstream_state(url)
    pair = (SharedRedis.connect(url), SharedRedis.connect(url))
    assert pair[0] is not None and pair[1] is not None
    yield pair[0], pair[1]
    for shared in pair:
        await shared.aclose()
    await forget_upstream_state(url)


async def test_a_shared_semaphore_caps_calls_in_flight_across_processes(
        two_processes: tuple[SharedRedis, SharedRedis]) -> None:
    slots = [SharedSemaphore(s, "test", limit=3, lease_seconds=10, fallback=ConcurrencyPacer(3))
             for s in two_processes]
    in_flight = peak = 0

    async def call(pacer: SharedSemaphore) -> None:
        nonlocal in_flight, peak
        lease = await pacer.acquire()
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        await pacer.release(None, lease)

    await asyncio.gather(*(call(slots[i % 2]) for i in range(16)))
    assert peak == 3  # both "processes" together, never a fourth


async def test_a_shared_token_bucket_grants_no_more_than_its_burst_plus_refill(
        two_processes: tuple[SharedRedis, SharedRedis]) -> None:
    buckets = [SharedTokenBucket(s, "test", capacity=4, rate=20.0, fallback=TokenBucketPacer(4, 20.0))
               for s in two_processes]
    started = time.monotonic()
    granted: list[float] = []

    async def call(bucket: SharedTokenBucket) -> None:
        await bucket.acquire()
        granted.append(time.monotonic() - started)

    await asyncio.gather(*(call(buckets[i % 2]) for i in range(14)))
    # By any moment t, at most burst + rate * t grants (one of slack for clock rounding).
    for count, at in enumerate(sorted(granted), start=1):
        assert count <= 4 + 20.0 * at + 1


async def test_a_circuit_opens_for_every_process_and_a_probe_success_closes_it(
        two_processes: tuple[SharedRedis, SharedRedis]) -> None:
    policy = CircuitPolicy(failure_threshold=2, reset_seconds=0.2, probe_seconds=1.0)
    mine, theirs = (Circuit("ga4", policy, s) for s in two_processes)
    await mine.record(ok=False)
    await mine.record(ok=False)

    assert await is_open(theirs)
    with pytest.raises(UpstreamUnavailable):
        await theirs.allow()
    await asyncio.sleep(0.25)
    assert await theirs.state() == "half_open"
    await theirs.allow()  # the one probe
    with pytest.raises(UpstreamUnavailable):
        await mine.allow()  # a second caller waits for the probe's outcome
    await theirs.record(ok=True)
    assert await mine.state() == "closed"
    await mine.allow()


async def test_without_redis_a_circuit_keeps_the_same_rules_in_process() -> None:
    circuit = Circuit("shopify", CircuitPolicy(failure_threshold=1, reset_seconds=0.1))
    await circuit.record(ok=False)
    assert await is_open(circuit)
    await asyncio.sleep(0.12)
    await circuit.allow()
    await circuit.record(ok=True)
    assert await circuit.state() == "closed"


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
async def test_calls_behind_this_process_probe_follow_its_outcome(
        two_processes: tuple[SharedRedis, SharedRedis], shared: bool) -> None:
    policy = CircuitPolicy(failure_threshold=1, reset_seconds=0.1, probe_seconds=10.0)
    circuit = Circuit("hubspot", policy, two_processes[0] if shared else None)
    await circuit.record(ok=False)
    await asyncio.sleep(0.15)  # past the pause: half-open

    assert await circuit.allow(patience=10) is True  # this call is the probe
    behind = [asyncio.ensure_future(circuit.allow(patience=10)) for _ in range(5)]
    await asyncio.sleep(0.05)
    assert not any(call.done() for call in behind)  # neither refused nor passed while the probe is out
    await circuit.record(ok=False)  # the probe failed: the circuit opens again, and they are refused
    outcomes = await asyncio.gather(*behind, return_exceptions=True)
    assert all(isinstance(o, UpstreamUnavailable) for o in outcomes), outcomes
    await asyncio.sleep(0.15)

    assert await circuit.allow(patience=10) is True
    behind = [asyncio.ensure_future(circuit.allow(patience=10)) for _ in range(5)]
    await asyncio.sleep(0.05)
    await circuit.record(ok=True)  # the source is back: every call waiting behind the probe passes
    assert await asyncio.gather(*behind) == [False] * 5
    assert await circuit.state() == "closed"


async def test_a_probe_that_ends_without_an_outcome_releases_the_calls_behind_it() -> None:
    circuit = Circuit("hubspot", CircuitPolicy(failure_threshold=1, reset_seconds=0.05, probe_seconds=10.0))
    await circuit.record(ok=False)
    await asyncio.sleep(0.1)
    assert await circuit.allow(patience=10) is True
    behind = asyncio.ensure_future(circuit.allow(patience=10))
    await asyncio.sleep(0.02)

    circuit.probe_ended()  # e.g. the probe's request was cancelled: no answer, no verdict

    with pytest.raises(UpstreamUnavailable):
        await behind  # refused now rather than held for the whole patience
