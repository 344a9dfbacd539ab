"""`harmonia serve` as an operator starts it trusts no key anyone else has, and tells a prober nothing.

Each test starts the real command (a subprocess on loopback) and attacks it as a stranger would: a
token signed with the secret published in Harmonia's own source, a token the identity provider
issued for another application, a typo fishing for field names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from harmonia.auth.key_checks import PUBLISHED_SECRETS
from harmonia.auth.tokens import mint_token
from tests.auth.conftest import JwksServer, SigningKey
from tests.conftest import TEST_JWT_SECRET, TEST_SECRET_ENV
from tests.servers import ROOT, Servers, free_port, stop

PUBLISHED = next(iter(PUBLISHED_SECRETS))
TYPO = "{ customers(first: 1) { edges { node { emial } } } }"


@dataclass
class Outcome:
    """A `harmonia serve` that exited (``code``, ``output``), or one that is serving at ``url``."""

    code: int | None
    output: str
    url: str | None = None


StartServe = Callable[[dict[str, str]], Outcome]


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[StartServe]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> Outcome:
        port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
        base["PYTHONPATH"] = str(ROOT)
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "harmonia.cli", "serve", "--port", str(port)],
                                    cwd=tmp_path, env=base | env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return Outcome(proc.returncode, log.read_text(errors="replace"))
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                return Outcome(None, log.read_text(errors="replace"), url)
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"serve neither started nor exited:\n{log.read_text(errors='replace')}")

    yield start
    for proc in started:
        stop(proc)


def admin_with_privacy(secret: str) -> str:
    return mint_token(secret, roles=["admin"], sub="mallory", scopes=["privacy"], ttl=600)


def accepted(url: str, token: str) -> bool:
    response = httpx.post(f"{url}/graphql", json={"query": "{ customers(first: 1) { edges { node { email } } } }"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return response.status_code == 200


def refused_to_start(outcome: Outcome, *settings: str) -> None:
    assert outcome.url is None, "serve started"
    assert outcome.code == 2, outcome.output
    for setting in settings:
        assert setting in outcome.output, outcome.output
    assert "Traceback" not in outcome.output, outcome.output


def test_serve_without_a_key_refuses_to_start_and_names_both_settings(start_serve: StartServe) -> None:
    outcome = start_serve({})
    if outcome.url is not None:  # what it did before: serve, trusting the published demo secret
        pytest.fail(f"serve started with no key configured; an admin+privacy token signed with the published "
                    f"secret was {'accepted' if accepted(outcome.url, admin_with_privacy(PUBLISHED)) else 'refused'}")
    refused_to_start(outcome, "HARMONIA_AUTH__JWT_SECRET", "HARMONIA_AUTH__JWKS_URL")


@pytest.mark.parametrize("secret", [PUBLISHED, "short-secret"], ids=["published", "short"])
def test_serve_refuses_a_secret_anyone_could_sign_with(start_serve: StartServe, secret: str) -> None:
    outcome = start_serve({"HARMONIA_AUTH__JWT_SECRET": secret})
    if outcome.url is not None:
        pytest.fail(f"serve started on a guessable secret; a forged admin token was "
                    f"{'accepted' if accepted(outcome.url, admin_with_privacy(secret)) else 'refused'}")
    refused_to_start(outcome, "HARMONIA_AUTH__JWT_SECRET")


def test_serve_on_a_key_set_without_an_audience_refuses_to_start(
        start_serve: StartServe, jwks_server: JwksServer, first_key: SigningKey) -> None:
    outcome = start_serve({"HARMONIA_AUTH__JWKS_URL": jwks_server.url})
    if outcome.url is not None:
        # The issuer signs tokens for every application of the company: one meant for another app.
        elsewhere = first_key.sign({"sub": "mallory", "roles": ["admin"], "scope": "privacy",
                                    "aud": "the-intranet-wiki", "exp": int(time.time()) + 300})
        pytest.fail(f"serve started on a key set with no audience; a token issued for another application was "
                    f"{'accepted' if accepted(outcome.url, elsewhere) else 'refused'}")
    refused_to_start(outcome, "HARMONIA_AUTH__AUDIENCE")


def test_serve_with_its_own_secret_refuses_tokens_signed_with_the_published_one(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        gateway = servers.gateway(servers.simulators(), {})
        forged = httpx.post(f"{gateway}/graphql", json={"query": "{ __typename }"},
                            headers={"Authorization": f"Bearer {admin_with_privacy(PUBLISHED)}"})
        genuine = httpx.post(f"{gateway}/graphql", json={"query": "{ __typename }"},
                             headers={"Authorization": f"Bearer {admin_with_privacy(TEST_JWT_SECRET)}"})

    assert forged.status_code == 401 and forged.headers["www-authenticate"].startswith("Bearer ")
    assert genuine.status_code == 200


def test_serve_suggests_no_field_names_to_a_typo(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        gateway = servers.gateway(servers.simulators(), {})
        answer = httpx.post(f"{gateway}/graphql", json={"query": TYPO},
                            headers={"Authorization": f"Bearer {admin_with_privacy(TEST_JWT_SECRET)}"}).json()

    [problem] = answer["errors"]
    assert problem["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "emial" in problem["message"]
    assert "Did you mean" not in problem["message"] and "email" not in problem["message"].replace("emial", "")


def test_token_without_a_configured_secret_mints_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "harmonia.cli", "token", "--role", "admin"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 2 and done.stdout == ""
    assert "HARMONIA_AUTH__JWT_SECRET" in done.stderr and "Traceback" not in done.stderr


def test_token_mints_with_the_configured_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
    env |= {"PYTHONPATH": str(ROOT), **TEST_SECRET_ENV}
    done = subprocess.run([sys.executable, "-m", "harmonia.cli", "token", "--role", "analyst", "--sub", "ana"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), TEST_JWT_SECRET, algorithms=["HS256"])
    assert claims["roles"] == ["analyst"] and claims["sub"] == "ana"
