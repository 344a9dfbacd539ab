"""Anomalies posted to a chat webhook as Slack-compatible JSON (Slack, Mattermost, Rocket.Chat, Teams' Slack mode).

    webhook = Webhook("https://hooks.slack.com/services/...", gateway="harmonia-prod")
    await webhook.post(event)          # True when the webhook answered 2xx

The body is ``{"text": ..., "blocks": [...]}``: ``text`` alone is enough for every Slack-compatible
receiver, ``blocks`` lays it out where supported. The URL carries the channel's secret: it is never
logged, and a failure is reported by its kind only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from harmonia.observability.anomalies import AnomalyEvent

log = logging.getLogger("harmonia.observability")
_ICON = {"latency": ":hourglass:", "errors": ":rotating_light:", "quota": ":chart_with_upwards_trend:"}


def slack_body(event: AnomalyEvent, gateway: str) -> dict[str, Any]:
    at = datetime.fromtimestamp(event.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    title = f"{_ICON.get(event.kind, ':warning:')} Harmonia: {event.source} {event.kind} anomaly"
    text = f"{title}\n{event.message}\n{gateway} at {at}"
    return {"text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{event.message}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{gateway} · {at} · see /admin/sources"}]},
    ]}


class Webhook:
    def __init__(self, url: str, *, gateway: str = "harmonia", timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self.gateway = gateway
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def post(self, event: AnomalyEvent) -> bool:
        try:
            response = await self.client.post(self.url, json=slack_body(event, self.gateway))
        except httpx.HTTPError as exc:
            log.warning("anomaly webhook unreachable (%s)", type(exc).__name__)
            return False
        if response.status_code >= 300:
            log.warning("anomaly webhook answered %s", response.status_code)
            return False
        return True

    async def aclose(self) -> None:
        await self.client.aclose()
