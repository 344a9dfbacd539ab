"""A real JWKS endpoint on 127.0.0.1 (a thread running http.server) and keys to sign with."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: PrivateKeyTypes

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        public = self.private.public_key()  # type: ignore[union-attr]
        data: dict[str, Any] = json.loads(algorithm.to_jwk(public))
        return data | {"kid": self.kid, "use": "sig", "alg": self.alg}

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg,  # type: ignore[arg-type]
                          headers={"kid": self.kid, **headers})


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class JwksServer:
    """Serves ``keys`` as a JWKS at ``url``; ``stop()`` takes it down (connections refused) and
    ``start()`` brings it back on the same port; ``status`` other than 200 makes it answer errors."""

    keys: list[SigningKey]
    fetches: int = 0
    stopped: bool = False
    status: int = 200
    server: ThreadingHTTPServer | None = field(default=None, repr=False)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                if owner.status != 200:
                    self.send_error(owner.status)
                    return
                body = json.dumps({"keys": [k.jwk() for k in owner.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)  # the same port once known
        self.port = self.server.server_address[1]
        self.stopped = False
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None and not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(scope="session")
def first_key() -> SigningKey:
    return rsa_key("key-1")


@pytest.fixture
def jwks_server(first_key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer([first_key])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The throwaway real redis-server of scripts/with-redis.sh, emptied for this test."""
    import redis

    url = os.environ.get("HARMONIA_TEST_REDIS_URL")
    if not url:
        pytest.fail("HARMONIA_TEST_REDIS_URL is not set: run the suite through `bash scripts/with-redis.sh` "
                    "(make test does)")
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
