"""Upstream clients keep no cookies, through the transport production uses (aiohttp under httpx).

HubSpot's answers carry Cloudflare's ``__cf_bm`` cookie (the simulator sets it as the CDN does). One
client serves every user of a gateway, so a cookie kept from one user's call would ride along on
every later call, for everyone. The simulators run as a real process and are named by host name
(``localhost``): a cookie jar keeps cookies of a host name, not of a bare IP address.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harmonia.settings import HubSpotSettings
from harmonia.simulators.cdn import COOKIE
from harmonia.sources._http import SourceHttp, build_client
from tests.conftest import token_for
from tests.servers import Servers

CONTACTS = "/crm/v3/objects/contacts"
QUERY = "{ customers(first: 2) { edges { node { id } } } }"


def by_host_name(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


def hubspot_requests(simulators: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{simulators}/__requests", params={"source": "hubspot"}).json()
    return found


def test_hubspot_answers_set_the_cdn_cookie(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        simulators = servers.simulators()
        answer = httpx.get(f"{simulators}/hubspot{CONTACTS}",
                           headers={"Authorization": f"Bearer {HubSpotSettings().token}"})

    assert answer.status_code == 200
    assert answer.headers["set-cookie"].startswith(f"{COOKIE}=")


async def test_the_production_transport_sends_no_cookie_back(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        simulators = servers.simulators()
        settings = HubSpotSettings(base_url=f"{by_host_name(simulators)}/hubspot")
        http = SourceHttp("hubspot", build_client(settings, headers={"Authorization": f"Bearer {settings.token}"}))
        try:
            answers = [await http.request("GET", CONTACTS, params={"limit": 2}) for _ in range(3)]
        finally:
            await http.aclose()
        seen = hubspot_requests(simulators)

    assert all(COOKIE in a.headers.get("set-cookie", "") for a in answers)
    assert [r["cookie"] for r in seen] == [None, None, None]


def test_serve_sends_no_upstream_cookie_from_one_user_on_anothers_call(tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        simulators = servers.simulators()
        gateway = servers.gateway(simulators, {
            "HARMONIA_SOURCES__HUBSPOT__BASE_URL": f"{by_host_name(simulators)}/hubspot",
            "HARMONIA_CACHE__ENABLED": "false",  # every query goes upstream
        })
        for user in ("alice", "bob", "carol"):
            answer = httpx.post(f"{gateway}/graphql", json={"query": QUERY},
                                headers={"Authorization": f"Bearer {token_for('marketer', sub=user)}"}, timeout=30)
            assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        seen = hubspot_requests(simulators)

    assert urlsplit(by_host_name(simulators)).hostname == "localhost"
    assert len(seen) >= 3
    assert [r["cookie"] for r in seen if r["cookie"]] == []
