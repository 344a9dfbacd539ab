"""A simulator ten times slower mid-run: the gateway's detector opens the anomaly and posts one webhook message.

Real processes (``harmonia simulate --latency-ms 20``, ``harmonia serve`` with caches off) under steady
traffic, a real HTTP webhook receiver here, and a compressed timescale (10-second recent window against
a 40-second baseline, checked every second). The hour-long steady replay that must post nothing is a
benchmark: ``python -m bench.anomalies`` (figures in bench/results/anomalies.json).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import token_for
from tests.servers import Servers, free_port

QUERY = "{ campaigns(first: 50) { edges { node { name } } } }"


class Receiver:
    """A Slack-compatible webhook endpoint: keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, dict[str, Any]]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                posts.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/secret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def steady(gateway: str, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token_for('marketer', sub='dash')}"}
    with httpx.Client(timeout=15) as client:
        while not stop.wait(0.15):
            with contextlib.suppress(httpx.HTTPError):
                client.post(f"{gateway}/graphql", json={"query": QUERY}, headers=headers)


def test_mailchimp_ten_times_slower_gives_one_event_and_one_post_within_a_minute(
        tmp_path: Path, receiver: Receiver) -> None:
    with Servers(tmp_path) as servers:
        sim = servers.start("simulators", ["simulate", "--no-rate-limits", "--latency-ms", "20"], {}, free_port())
        gateway = servers.gateway(sim, {
            "HARMONIA_CACHE__ENABLED": "false", "HARMONIA_ALERTS__WEBHOOK_URL": receiver.url,
            "HARMONIA_ALERTS__GATEWAY_NAME": "test-gateway", "HARMONIA_ALERTS__CHECK_SECONDS": "1",
            "HARMONIA_ALERTS__RECENT_SECONDS": "10", "HARMONIA_ALERTS__BASELINE_SECONDS": "40"})
        stop = threading.Event()
        load = threading.Thread(target=steady, args=(gateway, stop), daemon=True)
        load.start()
        try:
            time.sleep(60)  # steady traffic at the simulator's usual 20 ms: a whole baseline, and no anomaly
            assert receiver.posts == []

            injected = time.monotonic()
            assert httpx.post(f"{sim}/__faults", json={"source": "mailchimp", "status": 200, "rate": 0.0,
                                                        "latency_ms": 180, "seconds": 120}).status_code == 200
            while not receiver.posts and time.monotonic() - injected < 60:
                time.sleep(0.2)
            assert receiver.posts, "no webhook post within a minute of the slowdown"
            posted_at, body = receiver.posts[0]
            print(f"anomaly posted {posted_at - injected:.1f} s after mailchimp slowed from 20 to 200 ms")
            assert "mailchimp latency anomaly" in body["text"] and "test-gateway" in body["text"]
            assert body["blocks"][0]["type"] == "section"

            time.sleep(8)  # still slow: the anomaly stays open, and is not posted again
            assert len(receiver.posts) == 1
            catalog = httpx.post(f"{gateway}/graphql", json={"query": "{ sources { anomalies { source kind state } "
                                                             "sources { name anomalies { kind message } } } }"},
                                 headers={"Authorization": f"Bearer {token_for('admin')}"}).json()["data"]["sources"]
            assert {"source": "mailchimp", "kind": "latency", "state": "OPEN"} in catalog["anomalies"]
            [mailchimp] = [s for s in catalog["sources"] if s["name"] == "mailchimp"]
            assert [a["kind"] for a in mailchimp["anomalies"]] == ["latency"]
            assert all(a["source"] == "mailchimp" for a in catalog["anomalies"])  # Google Ads was not slowed
        finally:
            stop.set()
            load.join(timeout=20)
            httpx.delete(f"{sim}/__faults")
