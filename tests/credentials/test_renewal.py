"""Renewing credentials against the simulated token endpoints: when they call, how often, what they keep."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harmonia.credentials import RenewingCredential, credential_for
from harmonia.errors import CredentialsUnavailable
from harmonia.settings import GA4Settings, GoogleAdsSettings, HubSpotSettings, ShopifySettings
from tests.conftest import SIM_BASE, TEST_SECRET_ENV
from tests.credentials.conftest import LIFETIME, oauth_settings, token_requests
from tests.servers import ROOT


def hubspot(transport: httpx.AsyncBaseTransport, redis_client: redis.Redis | None = None,
            **oauth: Any) -> RenewingCredential:
    settings = HubSpotSettings(base_url=f"{SIM_BASE}/hubspot", oauth=oauth_settings("hubspot", **oauth))
    credential = credential_for("hubspot", settings, transport=transport, redis_client=redis_client)
    assert isinstance(credential, RenewingCredential)
    return credential


def shopify(transport: httpx.AsyncBaseTransport, redis_client: redis.Redis | None = None,
            **oauth: Any) -> RenewingCredential:
    settings = ShopifySettings(base_url=f"{SIM_BASE}/shopify", oauth=oauth_settings("shopify", **oauth))
    credential = credential_for("shopify", settings, transport=transport, redis_client=redis_client)
    assert isinstance(credential, RenewingCredential)
    return credential


async def test_a_token_serves_every_call_until_it_is_due_then_one_renewal_serves_them_all(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient) -> None:
    credential = hubspot(sim_transport)
    first = await asyncio.gather(*(credential.token() for _ in range(50)))
    assert len({t.value for t in first}) == 1
    assert await token_requests(control, "hubspot") == {"refresh_token": 1}
    await asyncio.sleep(LIFETIME + 0.1)  # expired: every caller waits for the one renewal
    second = await asyncio.gather(*(credential.token() for _ in range(50)))
    assert len({t.value for t in second}) == 1 and second[0].value != first[0].value
    assert await token_requests(control, "hubspot") == {"refresh_token": 2}
    await credential.aclose()


async def test_a_token_close_to_expiry_is_renewed_while_it_still_serves(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient) -> None:
    credential = hubspot(sim_transport)
    old = await credential.token()
    await asyncio.sleep(LIFETIME * 0.85)  # inside the last fifth of its life: due, not expired
    assert await credential.token() is old  # no wait: the renewal runs beside this call
    for _ in range(50):
        await asyncio.sleep(0.01)
        if credential.current is not old:
            break
    assert credential.current is not None and credential.current.value != old.value
    assert credential.current.expires_at is not None and credential.current.expires_at > time.time() + 2
    assert await token_requests(control, "hubspot") == {"refresh_token": 2}
    await credential.aclose()


async def test_a_refused_token_is_renewed_once_however_many_calls_saw_it_refused(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient) -> None:
    credential = hubspot(sim_transport)
    token = await credential.token()
    await asyncio.gather(*(credential.rejected(token) for _ in range(20)))
    assert (await credential.token()).value != token.value
    assert await token_requests(control, "hubspot") == {"refresh_token": 2}
    await credential.rejected(token)  # a late 401 for the old token: already replaced, nothing sent
    assert await token_requests(control, "hubspot") == {"refresh_token": 2}
    await credential.aclose()


async def test_shopify_rotated_refresh_tokens_are_kept_so_every_renewal_works(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient) -> None:
    credential = shopify(sim_transport)
    seen = set()
    for _ in range(4):
        token = await credential.token()
        seen.add(token.value)
        await credential.rejected(token)  # force a renewal: each spends the previous refresh token
    assert len(seen) == 4
    assert await token_requests(control, "shopify") == {"refresh_token": 5}
    assert (await control.get("/__oauth")).json()["refused"] == {}
    await credential.aclose()


async def test_a_restart_continues_the_rotation_chain_from_redis_instead_of_replaying_a_spent_token(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient, credential_redis: redis.Redis) -> None:
    before = shopify(sim_transport, credential_redis)
    token = await before.token()
    await before.rejected(token)  # the configured refresh token is spent now; the new one is in Redis
    await before.aclose()
    await asyncio.sleep(LIFETIME + 0.1)
    after = shopify(sim_transport, credential_redis)  # a new process with the same configuration
    assert (await after.token()).value not in (token.value, before.current.value if before.current else "")
    stats = (await control.get("/__oauth")).json()
    assert stats["token_requests"]["shopify"] == {"refresh_token": 3} and stats["refused"] == {}
    await after.aclose()


async def test_without_redis_a_restart_replays_the_spent_refresh_token_and_says_why(
        sim_transport: httpx.ASGITransport) -> None:
    before = shopify(sim_transport)
    await before.rejected(await before.token())
    await before.aclose()
    after = shopify(sim_transport)
    with pytest.raises(CredentialsUnavailable) as refused:
        await after.token()
    assert (refused.value.reason, refused.value.permanent, refused.value.code) == (
        "invalid_grant", True, "UPSTREAM_UNAVAILABLE")
    await after.aclose()


async def test_two_instances_sharing_redis_make_one_token_request_per_renewal(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient, credential_redis: redis.Redis) -> None:
    a, b = hubspot(sim_transport, credential_redis), hubspot(sim_transport, credential_redis)
    tokens = await asyncio.gather(*(c.token() for c in (a, b) for _ in range(20)))
    assert len({t.value for t in tokens}) == 1
    await asyncio.sleep(LIFETIME + 0.1)
    tokens = await asyncio.gather(*(c.token() for c in (a, b) for _ in range(20)))
    assert len({t.value for t in tokens}) == 1
    assert await token_requests(control, "hubspot") == {"refresh_token": 2}
    await a.aclose()
    await b.aclose()


async def test_redis_holds_tokens_sealed_never_in_clear(
        sim_transport: httpx.ASGITransport, credential_redis: redis.Redis) -> None:
    credential = shopify(sim_transport, credential_redis)
    token = await credential.token()
    await credential.rejected(token)
    stored = b""
    async for key in credential_redis.scan_iter(match="harmonia:credential:*"):
        if key.endswith(b":lock"):
            continue
        stored += b"".join(k + v for k, v in (await credential_redis.hgetall(key)).items())
    assert b"refresh" in stored and b"token" in stored
    secrets = [credential.current.value if credential.current else "", token.value, "shprt_",
               oauth_settings("shopify")["client_secret"]]
    assert not [s for s in secrets if s.encode() in stored]
    await credential.aclose()


async def test_a_failing_token_endpoint_is_retried_after_a_backoff_not_on_every_call(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient) -> None:
    await control.post("/__oauth", json={"fail": {"issuer": "hubspot", "status": 503, "seconds": 30}})
    credential = hubspot(sim_transport)
    for _ in range(10):
        with pytest.raises(CredentialsUnavailable) as failed:
            await credential.token()
        assert (failed.value.reason, failed.value.permanent) == ("http_503", False)
    assert await token_requests(control, "hubspot") == {"refresh_token": 1}
    await control.post("/__oauth", json={"clear_faults": True})
    await asyncio.sleep(0.6)  # the first backoff
    assert (await credential.token()).value
    assert await token_requests(control, "hubspot") == {"refresh_token": 2}
    await credential.aclose()


async def test_a_revoked_refresh_token_is_a_permanent_refusal(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient) -> None:
    await control.post("/__oauth/revoke", json={"issuer": "hubspot", "refresh": True})
    credential = hubspot(sim_transport)
    with pytest.raises(CredentialsUnavailable) as refused:
        await credential.token()
    assert (refused.value.reason, refused.value.permanent) == ("BAD_REFRESH_TOKEN", True)
    await credential.aclose()


async def test_a_service_account_key_gets_tokens_by_a_signed_assertion(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient, key_file: Path) -> None:
    settings = GA4Settings(base_url=f"{SIM_BASE}/ga4", service_account_file=str(key_file),
                           oauth=oauth_settings("google"))  # the key file wins over OAuth
    credential = credential_for("ga4", settings, transport=sim_transport)
    token = await credential.token()
    assert credential.kind == "jwt_bearer"
    assert token.scopes == {"https://www.googleapis.com/auth/analytics.readonly"}
    assert await token_requests(control, "google") == {"jwt_bearer": 1}
    await credential.aclose()


async def test_an_assertion_signed_with_another_key_is_refused_as_google_does(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient, key_file: Path, tmp_path: Path) -> None:
    info = json.loads(key_file.read_text())  # noqa: ASYNC240 - a small local file, read once
    info["private_key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(info))
    credential = credential_for("googleads", GoogleAdsSettings(service_account_file=str(forged)),
                                transport=sim_transport)
    with pytest.raises(CredentialsUnavailable) as refused:
        await credential.token()
    assert refused.value.reason == "invalid_grant"
    assert (await control.get("/__oauth")).json()["refused"] == {"google 400": 1}
    await credential.aclose()


def test_precedence_is_service_account_then_oauth_then_the_pasted_token(key_file: Path) -> None:
    oauth = oauth_settings("google")
    assert credential_for("ga4", GA4Settings(service_account_file=str(key_file), oauth=oauth)).kind == "jwt_bearer"
    assert credential_for("ga4", GA4Settings(oauth=oauth)).kind == "refresh_token"
    assert credential_for("ga4", GA4Settings()).kind == "static"
    assert credential_for("shopify", ShopifySettings(oauth=oauth_settings("shopify", refresh_token=None))
                          ).kind == "client_credentials"


@pytest.mark.parametrize(("source", "settings", "names"), [
    ("hubspot", HubSpotSettings(oauth={"client_id": "x"}), "HARMONIA_SOURCES__HUBSPOT__OAUTH__CLIENT_SECRET"),
    ("hubspot", HubSpotSettings(oauth={"client_id": "x", "client_secret": "s"}),
     "HARMONIA_SOURCES__HUBSPOT__OAUTH__REFRESH_TOKEN"),
    ("googleads", GoogleAdsSettings(oauth={"client_id": "x", "client_secret": "s"}),
     "HARMONIA_SOURCES__GOOGLEADS__OAUTH__REFRESH_TOKEN"),
])
def test_an_incomplete_oauth_configuration_names_the_setting_to_fix(source: str, settings: Any, names: str) -> None:
    with pytest.raises(ValueError, match=names):
        credential_for(source, settings)


def test_a_broken_key_file_is_refused_at_startup_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text('{"type": "service_account", "client_email": "a@b", "private_key_id": "k", '
                    '"token_uri": "https://oauth2.googleapis.com/token", "private_key": "-----BEGIN PRIVATE KEY-----'
                    'c2VjcmV0LXNlY3JldC1zZWNyZXQ=-----END PRIVATE KEY-----"}')
    with pytest.raises(ValueError) as refused:
        credential_for("ga4", GA4Settings(service_account_file=str(path)))
    assert str(path) in str(refused.value) and "c2VjcmV0" not in str(refused.value)
    with pytest.raises(ValueError, match="cannot be read"):
        credential_for("ga4", GA4Settings(service_account_file=str(tmp_path / "missing.json")))


def test_secrets_never_show_in_a_settings_repr() -> None:
    settings = HubSpotSettings(oauth=oauth_settings("hubspot"))
    shown = repr(settings) + str(settings.model_dump())
    assert oauth_settings("hubspot")["client_secret"] not in shown
    assert oauth_settings("hubspot")["refresh_token"] not in shown


class SteppedClock:
    """The credential's view of time: the wall clock when made, then only where the test moves it."""

    def __init__(self) -> None:
        self.start = time.time()
        self.offset = 0.0

    def __call__(self) -> float:
        return self.start + self.offset


async def test_a_failed_renewal_is_tried_again_before_the_current_token_expires(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient) -> None:
    credential = hubspot(sim_transport)
    clock = SteppedClock()
    credential.clock = clock
    old = await credential.token()  # lives 3 s; the next ones a minute
    await control.post("/__oauth", json={"lifetime_seconds": 60,
                                         "fail": {"issuer": "hubspot", "status": 503, "seconds": 60}})
    clock.offset = LIFETIME * 0.82  # due: a renewal starts beside the calls, and fails
    assert await credential.token() is old
    await asyncio.sleep(0.05)
    assert credential.last_failure is not None and credential.last_failure.reason == "http_503"
    await control.post("/__oauth", json={"clear_faults": True})
    clock.offset = LIFETIME * 0.82 + 0.2  # not the usual 0.5 s backoff: half of what the old token has left
    assert await credential.token() is old
    await asyncio.sleep(0.05)
    clock.offset = LIFETIME - 0.15  # the old token is expired for us now; the new one serves at once
    assert (await credential.token()).value != old.value
    assert await token_requests(control, "hubspot") == {"refresh_token": 3}
    await credential.aclose()


def test_serve_refuses_an_incomplete_credential_before_starting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIA_")}
    env |= TEST_SECRET_ENV | {"PYTHONPATH": str(ROOT), "HARMONIA_SOURCES__HUBSPOT__OAUTH__CLIENT_ID": "0f6a-client",
            "HARMONIA_SOURCES__GA4__SERVICE_ACCOUNT_FILE": str(tmp_path / "absent.json")}
    done = subprocess.run([sys.executable, "-m", "harmonia.cli", "serve", "--port", "9"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("harmonia: HARMONIA_SOURCES__HUBSPOT__OAUTH__CLIENT_SECRET is required with "
                                   "HARMONIA_SOURCES__HUBSPOT__OAUTH__CLIENT_ID")


async def test_a_token_endpoint_error_that_is_not_a_code_is_never_repeated(
        sim_transport: httpx.ASGITransport, control: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    echoed = oauth_settings("hubspot")["refresh_token"]  # an endpoint echoing what it was sent
    await control.post("/__oauth", json={"fail": {"issuer": "hubspot", "status": 400, "error": echoed}})
    credential = hubspot(sim_transport)
    with pytest.raises(CredentialsUnavailable) as refused:
        await credential.token()
    assert refused.value.reason == "http_400" and echoed not in caplog.text
    await credential.aclose()


def test_serve_warns_of_a_token_endpoint_without_tls_off_this_machine() -> None:
    from harmonia.credentials.build import check_credentials
    from harmonia.settings import SourcesSettings

    remote = SourcesSettings.model_validate({"hubspot": {"base_url": "http://crm-proxy.internal:8080",
                                                         "oauth": oauth_settings("hubspot")}})
    [warning] = check_credentials(remote)
    assert warning.startswith("hubspot: the token endpoint http://crm-proxy.internal is not HTTPS")
    local = SourcesSettings.model_validate({"hubspot": {"base_url": "http://127.0.0.1:8100/hubspot",
                                                        "oauth": oauth_settings("hubspot")}})
    assert check_credentials(local) == []
