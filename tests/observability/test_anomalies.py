"""The anomaly detector on a clock of its own: what opens an anomaly, what resolves it, and when it is posted."""

from __future__ import annotations

import json
from typing import Any

import httpx

from harmonia.observability.anomalies import AnomalyDetector, AnomalyEvent, AnomalyPolicy
from harmonia.observability.source_series import SourceSeries
from harmonia.observability.webhook import Webhook


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def traffic(series: SourceSeries, clock: Clock, seconds: int, latency: float, *, per_second: int = 5,
            error_every: int = 0) -> None:
    """``per_second`` calls a second for ``seconds`` seconds, advancing the clock."""
    for _ in range(seconds):
        for i in range(per_second):
            series.record("shopify", latency, error=bool(error_every) and i % error_every == 0)
        clock.now += 1


def detector(posts: list[AnomalyEvent], clock: Clock, **policy: Any) -> tuple[AnomalyDetector, SourceSeries]:
    series = SourceSeries(clock=clock)

    async def notify(event: AnomalyEvent) -> bool:
        posts.append(event)
        return True

    policy.setdefault("baseline_seconds", 240)
    found = AnomalyDetector(series, AnomalyPolicy(**policy), notify=notify, clock=clock, sources=lambda: ["shopify"])
    return found, series


async def test_latency_ten_times_the_baseline_opens_one_anomaly_and_posts_once_per_cooldown() -> None:
    clock, posts = Clock(), []
    found, series = detector(posts, clock, cooldown_seconds=600)
    traffic(series, clock, 300, 0.020)
    assert await found.check() == []

    traffic(series, clock, 30, 0.200)
    [event] = await found.check()
    assert (event.source, event.kind, event.state) == ("shopify", "latency", "OPEN")
    assert "usually 2" in event.message and len(posts) == 1
    traffic(series, clock, 10, 0.200)
    assert await found.check() == [] and len(posts) == 1, "an open anomaly is not posted again"
    traffic(series, clock, 300, 0.200)  # slow for longer than the baseline window: still an anomaly
    assert await found.check() == [] and list(found.open) == [("shopify", "latency")]

    traffic(series, clock, 120, 0.020)
    [resolved] = await found.check()
    assert resolved.state == "RESOLVED"
    traffic(series, clock, 30, 0.200)  # back within the cooldown: opened, shown, not posted
    assert [e.state for e in await found.check()] == ["OPEN"] and len(posts) == 1
    traffic(series, clock, 120, 0.020)
    await found.check()
    clock.now += 600  # the cooldown is over
    traffic(series, clock, 300, 0.020)
    traffic(series, clock, 30, 0.250)
    await found.check()
    assert len(posts) == 2
    assert [e.state for e in found.events()][:2] == ["OPEN", "RESOLVED"]


async def test_steady_traffic_with_jitter_and_a_slow_call_now_and_then_raises_nothing() -> None:
    clock, posts = Clock(), []
    found, series = detector(posts, clock)
    for minute in range(60):
        for second in range(60):
            latency = 0.020 + (second % 7) * 0.002 + (0.400 if second == 13 else 0)
            series.record("shopify", latency, error=(minute * 60 + second) % 97 == 0)
            clock.now += 1
        assert await found.check() == []
    assert posts == []


async def test_an_error_burst_opens_an_errors_anomaly_and_a_quiet_source_never_does() -> None:
    clock, posts = Clock(), []
    found, series = detector(posts, clock)
    traffic(series, clock, 300, 0.02)
    traffic(series, clock, 30, 0.02, error_every=2)
    [event] = await found.check()
    assert event.kind == "errors" and "failed 60% of calls" in event.message

    clock2, posts2 = Clock(), []
    quiet, series2 = detector(posts2, clock2)
    traffic(series2, clock2, 30, 2.0, per_second=0)
    series2.record("shopify", 5.0, error=True)  # one slow failure with no baseline: nothing to compare with
    assert await quiet.check() == [] and posts2 == []

    clock3, posts3 = Clock(), []
    young, series3 = detector(posts3, clock3)
    traffic(series3, clock3, 60, 0.02)  # a minute old, a 4-minute baseline: too young to judge
    traffic(series3, clock3, 30, 0.5, error_every=1)
    assert await young.check() == [] and posts3 == []


async def test_quota_burn_opens_when_headroom_runs_out_as_calls_surge() -> None:
    clock, posts = Clock(), []
    found, series = detector(posts, clock)
    found.headroom = lambda source: 0.04
    traffic(series, clock, 300, 0.02, per_second=1)
    traffic(series, clock, 30, 0.02, per_second=6)
    [event] = await found.check()
    assert event.kind == "quota" and "4% left" in event.message


async def test_the_webhook_gets_slack_json_and_its_failure_never_stops_detection() -> None:
    received: list[dict[str, Any]] = []

    def hook(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(200 if len(received) == 1 else 500, text="ok")

    webhook = Webhook("https://hooks.example.test/services/T/B/secret", gateway="prod-eu",
                      transport=httpx.MockTransport(hook))
    event = AnomalyEvent("ga4", "latency", "OPEN", 1_800_000_000.0, "ga4 answers in 900 ms", 0.9, 0.09)
    assert await webhook.post(event) is True
    body = received[0]
    assert body["text"].startswith(":hourglass: Harmonia: ga4 latency anomaly\nga4 answers in 900 ms\nprod-eu at")
    assert body["blocks"][0]["type"] == "section"
    assert await webhook.post(event) is False  # a 500 is reported as a failure, not raised
    await webhook.aclose()
