"""`harmonia demo` as a user runs it: real processes on loopback, GraphiQL served, examples answer."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from harmonia.auth.key_checks import PUBLISHED_SECRETS
from harmonia.http.examples import EXAMPLES


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[str, dict[str, str]]]:
    port, sim_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIA_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harmonia.cli", "demo", "--port", str(port), "--sim-port", str(sim_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=Path(__file__).parent,
    )
    try:
        tokens: dict[str, str] = {}
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(tokens) < 4 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if match := re.search(r"^\s+(\w+)\s+http://\S+#token=(\S+)$", line):
                tokens[match.group(1)] = match.group(2)
        assert set(tokens) == {"admin", "marketer", "analyst", "support"}, "demo printed no token per role"
        url = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url, tokens
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_demo_serves_graphiql_with_the_examples(demo: tuple[str, dict[str, str]]) -> None:
    url, _ = demo
    page = httpx.get(f"{url}/graphql", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert "CustomersWithOrders" in page.text


@pytest.mark.parametrize("title", list(EXAMPLES))
def test_every_preloaded_example_answers_without_errors(demo: tuple[str, dict[str, str]], title: str) -> None:
    url, tokens = demo
    response = httpx.post(f"{url}/graphql", json={"query": EXAMPLES[title]},
                          headers={"Authorization": f"Bearer {tokens['admin']}"}, timeout=60)

    body = response.json()
    assert response.status_code == 200
    assert "errors" not in body, body.get("errors")
    assert body["data"] and all(value is not None for value in body["data"].values())


def test_demo_tokens_carry_their_roles(demo: tuple[str, dict[str, str]]) -> None:
    url, tokens = demo
    query = "{ customers(first: 1) { edges { node { email } } } }"
    analyst = httpx.post(f"{url}/graphql", json={"query": query},
                         headers={"Authorization": f"Bearer {tokens['analyst']}"}).json()
    marketer = httpx.post(f"{url}/graphql", json={"query": query},
                          headers={"Authorization": f"Bearer {tokens['marketer']}"}).json()

    assert "***" in analyst["data"]["customers"]["edges"][0]["node"]["email"]
    assert "***" not in marketer["data"]["customers"]["edges"][0]["node"]["email"]


def test_demo_tokens_are_signed_with_a_secret_of_its_own(demo: tuple[str, dict[str, str]]) -> None:
    _, tokens = demo
    for published in PUBLISHED_SECRETS:
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(tokens["admin"], published, algorithms=["HS256"])


def test_demo_is_the_development_mode_it_suggests_field_names(demo: tuple[str, dict[str, str]]) -> None:
    url, tokens = demo
    typo = "{ customers(first: 1) { edges { node { emial } } } }"
    answer = httpx.post(f"{url}/graphql", json={"query": typo},
                        headers={"Authorization": f"Bearer {tokens['admin']}"}).json()

    assert "Did you mean 'email'?" in answer["errors"][0]["message"]


def test_demo_shows_the_shipped_declared_sources_with_klaviyo_masked_for_analysts(
        demo: tuple[str, dict[str, str]]) -> None:
    url, tokens = demo

    def ask(query: str, role: str) -> dict[str, Any]:
        answer = httpx.post(f"{url}/graphql", json={"query": query},
                            headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30)
        body: dict[str, Any] = answer.json()
        assert "errors" not in body, body
        return body

    campaigns = ask("{ campaigns(first: 100) { edges { node { channel stats { clicks } } } } }", "marketer")
    social = [e["node"] for e in campaigns["data"]["campaigns"]["edges"] if e["node"]["channel"] == "SOCIAL"]
    assert social and all(n["stats"]["clicks"] is not None for n in social)
    query = "{ customers(first: 20) { edges { node { klaviyoProfile { email } } } } }"
    clear = [e["node"]["klaviyoProfile"]["email"] for e in ask(query, "marketer")["data"]["customers"]["edges"]
             if e["node"]["klaviyoProfile"]]
    masked = [e["node"]["klaviyoProfile"]["email"] for e in ask(query, "analyst")["data"]["customers"]["edges"]
              if e["node"]["klaviyoProfile"]]
    assert clear and all("***@" not in e for e in clear)
    assert len(masked) == len(clear) and all("***@" in e for e in masked)
