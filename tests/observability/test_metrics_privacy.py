"""/metrics answers anyone without a token: its series name no user, only a bounded client label.

The attacker here scrapes /metrics of a `harmonia serve` and reads who has been using it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from harmonia.simulators.core import SimulatorState
from tests.conftest import TEST_JWT_SECRET, open_gateway, token_for
from tests.observability.promtext import samples, value
from tests.servers import Servers

ORDERS = "query Orders { orders(first: 2) { edges { node { name } } } }"
USERS = ("alice.martin@example.com", "bob-7f3a", "carol")


def client_labels(text: str) -> set[str]:
    return {dict(labels)["client"] for (_, labels), _ in samples(text).items() if "client" in dict(labels)}


def signed(**claims: Any) -> str:
    return jwt.encode({"roles": ["marketer"], "exp": int(time.time()) + 600, **claims}, TEST_JWT_SECRET, "HS256")


def test_serve_metrics_name_none_of_its_users(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        gateway = servers.gateway(servers.simulators(), {})
        for user in USERS:
            answer = httpx.post(f"{gateway}/graphql", json={"query": ORDERS}, timeout=30,
                                headers={"Authorization": f"Bearer {token_for('marketer', sub=user)}"})
            assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        scraped = httpx.get(f"{gateway}/metrics")  # no token, as a scraper (or anyone) asks

    assert scraped.status_code == 200
    text = scraped.text
    hashed = [hashlib.sha256(u.encode()).hexdigest()[:16] for u in USERS]
    assert [u for u in [*USERS, *hashed] if u in text] == []
    assert client_labels(text) == {"all"}
    assert value(samples(text), "harmonia_cost_points_total", client="all") > 0


async def test_a_client_claim_labels_series_by_application(fast_sim_state: SimulatorState) -> None:
    gateway, close = await open_gateway(fast_sim_state, auth={"client_claim": "azp"})
    try:
        for sub, azp in (("alice", "sales-dashboard"), ("bob", "sales-dashboard"), ("carol", "nightly-etl")):
            assert "errors" not in await gateway.query(ORDERS, token=signed(sub=sub, azp=azp))
        assert "errors" not in await gateway.query(ORDERS, token=signed(sub="dave"))  # no azp claim
        text = (await gateway.client.get("/metrics")).text
    finally:
        await close()

    labels = client_labels(text)
    assert {"sales-dashboard", "nightly-etl", "unknown"} <= labels
    assert not labels & {"alice", "bob", "carol", "dave"}


async def test_an_allow_list_shows_only_the_listed_clients(fast_sim_state: SimulatorState) -> None:
    gateway, close = await open_gateway(fast_sim_state, observability={"metrics_clients": ["etl-service"]})
    try:
        assert "errors" not in await gateway.query(ORDERS, token=token_for("marketer", sub="etl-service"))
        assert "errors" not in await gateway.query(ORDERS, token=token_for("marketer", sub="erin@example.com"))
        text = (await gateway.client.get("/metrics")).text
    finally:
        await close()

    labels = client_labels(text)
    assert {"etl-service", "other"} <= labels
    assert "erin@example.com" not in text and not any(label.startswith("sha256:") for label in labels)
