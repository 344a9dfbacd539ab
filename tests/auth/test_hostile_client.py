"""Issue 15, as a hostile client with a legitimate low-privilege token tries it against ``harmonia
serve`` started as an operator would (its own secret, a subprocess), over real HTTP.

Each test here failed on main at f45b7f0: an alias undid the analyst's masks.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from harmonia.auth.tokens import mint_token
from tests.servers import Servers

SECRET = secrets.token_urlsafe(32)

@dataclass
class Gateway:
    url: str
    sim: str

    def post(self, body: dict[str, Any], *roles: str, sub: str = "hostile", **headers: str) -> httpx.Response:
        token = mint_token(SECRET, roles=list(roles), sub=sub, ttl=600)
        return httpx.post(f"{self.url}/graphql", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}", **headers})

    def query(self, query: str, *roles: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = self.post({"query": query, "variables": variables}, *roles).json()
        return body

    def upstream_requests(self) -> int:
        stats = httpx.get(f"{self.sim}/__stats", timeout=10).json()
        return sum(int(source["requests"]) for source in stats.values())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Servers, str]]:
    with Servers(tmp_path_factory.mktemp("hostile")) as running:
        yield running, running.simulators()


def operator_env(**extra: str) -> dict[str, str]:
    """What an operator sets: a secret of their own; the rest are the shipped defaults."""
    return {"HARMONIA_AUTH__JWT_SECRET": SECRET, **extra}


@pytest.fixture(scope="module")
def gateway(servers: tuple[Servers, str]) -> Gateway:
    running, sim = servers
    return Gateway(running.gateway(sim, operator_env(), name="gateway"), sim)


@pytest.fixture(scope="module")
def seeded(gateway: Gateway) -> dict[str, Any]:
    """A real customer of the simulators' seeded data, as an admin sees it (in clear)."""
    body = gateway.query("{ customers(first: 20) { edges { node { id email phone firstName } } } }", "admin")
    return next(e["node"] for e in body["data"]["customers"]["edges"] if e["node"]["phone"])


# --- item 1: nothing a client writes decides a mask ------------------------------------------------

@pytest.mark.parametrize("selection", [
    "_harmoniaTypename: firstName email phone",
    "__typename: firstName email phone",
    "email phone _harmoniaTypename: lastName",
    "typename: firstName email phone",
    "firstName: email lastName: phone",
    "_harmoniaTypename: email phone: phone",
])
def test_an_alias_never_undoes_the_analysts_masks(gateway: Gateway, seeded: dict[str, Any], selection: str) -> None:
    query = f'{{ node(id: "{seeded["id"]}") {{ ... on Customer {{ {selection} }} }} }}'
    response = gateway.post({"query": query}, "analyst")

    assert seeded["email"] not in response.text.lower() and seeded["phone"] not in response.text
    values = response.json()["data"]["node"].values()
    assert any(isinstance(v, str) and v.startswith(seeded["email"][0]) and "***@" in v for v in values)
    assert "***" + seeded["phone"][-4:] in values
