"""What an upstream's Cache-Control means to the cache, and how long a failed Redis is left alone."""

from __future__ import annotations

import time

import pytest

from harmonia.cache.circuit import Circuit
from harmonia.cache.entry import Entry, Freshness
from harmonia.cache.hints import parse_cache_control


@pytest.mark.parametrize(("header", "expected"), [
    ("max-age=120", (120.0, False)),
    ("private, max-age=60, s-maxage=30", (30.0, False)),
    ("no-cache", (0.0, False)),
    ("no-store", (None, True)),
    ("max-age=abc", (None, False)),
    ("", (None, False)),
    (None, (None, False)),
])
def test_cache_control_reads_as_freshness(header: str | None, expected: tuple[float | None, bool]) -> None:
    assert parse_cache_control(header) == expected


def test_an_entry_moves_from_fresh_to_revalidate_to_stale_to_expired() -> None:
    entry = Entry("x", stored_at=1000.0, ttl=10, swr=5, sie=60)

    assert [entry.state(t) for t in (1005, 1012, 1030, 1071)] == [
        Freshness.FRESH, Freshness.REVALIDATE, Freshness.STALE, Freshness.EXPIRED]


def test_a_failure_opens_the_circuit_for_the_pause_and_a_success_closes_it() -> None:
    circuit = Circuit(retry_after=0.05)

    circuit.failed()
    paused = circuit.allows()
    time.sleep(0.06)
    probing = circuit.allows()
    circuit.succeeded()

    assert not paused and probing and circuit.allows()
