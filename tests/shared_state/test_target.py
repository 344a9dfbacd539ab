"""Where Redis is, as an operator configures it and as an attacker on the path would try it."""

from __future__ import annotations

import logging
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harmonia.cache.shared import RedisTier
from harmonia.settings import load_settings
from harmonia.shared_state import RedisTarget
from harmonia.simulators.core import SimulatorState
from tests.conftest import open_gateway
from tests.shared_state.conftest import topology_settings

PASSWORD = "pw-never-in-a-log-3f9a"


def target(**settings: Any) -> RedisTarget:
    found = RedisTarget.from_settings(load_settings(**settings))
    assert found is not None
    return found


def test_a_cluster_url_may_name_several_nodes_and_keeps_its_password_out_of_its_text() -> None:
    cluster = target(redis_url=f"redis://ops:{PASSWORD}@10.0.0.1:7000,10.0.0.2/0", redis_mode="cluster")
    assert cluster.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 6379))
    assert (cluster.username, cluster.password) == ("ops", PASSWORD)
    assert PASSWORD not in str(cluster) and PASSWORD not in repr(cluster)


def test_sentinels_default_to_their_own_port() -> None:
    sentinel = target(redis_url="redis://s1,s2:5000", redis_mode="sentinel", redis_sentinel_master="main")
    assert sentinel.nodes == (("s1", 26379), ("s2", 5000)) and sentinel.sentinel_master == "main"


@pytest.mark.parametrize(("settings", "says"), [
    ({"redis_url": "redis://a:1,b:2"}, "HARMONIA_REDIS_MODE"),
    ({"redis_url": "redis://a", "redis_mode": "sentinel"}, "HARMONIA_REDIS_SENTINEL_MASTER"),
    ({"redis_url": "redis://a/3", "redis_mode": "cluster"}, "database 0 only"),
    ({"redis_url": "http://a"}, "redis:// or rediss://"),
    ({"redis_url": "redis://a", "redis_tls_ca_file": "/ca.pem"}, "not rediss://"),
    ({"redis_url": "rediss://a", "redis_tls_cert_file": "/c.pem"}, "go together"),
    ({"redis_url": "redis://a:port"}, "no valid port"),
    ({"redis_url": "redis://a", "redis_mode": "replicated"}, "redis_mode"),
])
def test_a_configuration_that_cannot_work_fails_at_start_naming_the_setting(settings: dict[str, Any],
                                                                           says: str) -> None:
    with_password = {**settings, "redis_url": settings["redis_url"].replace("//", f"//:{PASSWORD}@", 1)}
    with pytest.raises(ValidationError) as failure:
        load_settings(**with_password)
    assert says in str(failure.value)
    assert PASSWORD not in str(failure.value)  # a startup error never prints the URL's password


def _other_ca(directory: Path) -> Path:
    """A CA that signed nothing the server holds: what a client trusting it meets is an impostor."""
    ca = directory / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=Not the Redis CA", "-keyout", str(directory / "other-ca.key"),
                    "-out", str(ca)], check=True, capture_output=True, timeout=60)
    return ca


async def reachable(settings: dict[str, Any]) -> bool:
    tier = RedisTier(target(**settings), timeout=2.0)
    try:
        return await tier.ping()
    finally:
        await tier.aclose()


async def test_the_tls_server_is_reached_with_the_ca_and_the_client_certificate() -> None:
    assert await reachable(topology_settings("tls"))


async def test_a_server_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    settings = {**topology_settings("tls"), "redis_tls_ca_file": str(_other_ca(tmp_path))}
    assert not await reachable(settings)


async def test_without_a_client_certificate_a_server_that_asks_for_one_refuses() -> None:
    settings = {k: v for k, v in topology_settings("tls").items() if k not in ("redis_tls_cert_file",
                                                                               "redis_tls_key_file")}
    assert not await reachable(settings)


async def test_a_plain_url_to_the_tls_port_never_talks_in_clear() -> None:
    settings = topology_settings("tls")
    plain = {"redis_url": settings["redis_url"].replace("rediss://", "redis://")}
    assert not await reachable(plain)


async def test_with_redis_away_queries_answer_in_full_and_no_log_line_carries_the_password(
        fast_sim_state: SimulatorState, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens once the socket is closed
    gateway, close = await open_gateway(fast_sim_state, redis_url=f"redis://:{PASSWORD}@127.0.0.1:{closed}/0")
    try:
        body = await gateway.query("{ customers(first: 3) { edges { node { email orders(first: 1) { edges { "
                                   "node { name } } } } } } }")
        ready = await gateway.client.get("/readyz")
    finally:
        await close()
    assert "errors" not in body and len(body["data"]["customers"]["edges"]) == 3
    assert ready.status_code == 503 and ready.json()["checks"]["redis"] == "unreachable"
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "redis unavailable" in logged  # the operator is told, once per outage
    assert PASSWORD not in logged
