"""Property-based authorization: for analyst, support and marketer, thousands of operations written as a
hostile client would (``tests/auth/hostile_operations.py``: hypothesis-graphql over the role's own view
and over the full schema, valid and invalid, plus hand-written attacks, all reshaped with real ids and
emails, gateway-like aliases, fragments, @skip/@include and introspection in fragments), sent through
the whole gateway to the seeded simulators (in process, over ASGI), and every answer checked on its raw
text and on its data against what the contract lets the role read (``tests/auth/authorization_oracle.py``):
no clear email or phone of the seeded data for analyst, no value of a denied field, introspection never
showing more than the role's schema, no error message naming what the role may not see.

``HARMONIA_AUTHZ_EXAMPLES`` (5,000 by default) is the number of distinct operations per role (a tenth
more are drawn: small documents reshaped by different seeds can come out the same), on the compiled
executor; the analyst runs a fifth as many again on graphql-core's. Generation is
derandomized (the same operations every run, as CI needs) and hypothesis's database is off; set
``HARMONIA_AUTHZ_SEED`` to explore other operations.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import DocumentNode, GraphQLSchema, build_client_schema, get_introspection_query, parse, print_ast
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, queries

from harmonia.schema import build_schema
from harmonia.simulators.app import create_simulator_app
from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World, build_world
from tests.auth.authorization_oracle import Expectations
from tests.auth.hostile_operations import HostileOperations, Seeded
from tests.conftest import SOURCES, gateway_settings, token_for

EXAMPLES = int(os.environ.get("HARMONIA_AUTHZ_EXAMPLES", "5000"))
SEED = os.environ.get("HARMONIA_AUTHZ_SEED")
ROLES = ("analyst", "support", "marketer")
POOL = {"full": 200, "invalid": 100, "view": 150}   # generated documents to reshape, per kind
FULL_SCHEMA = build_schema()._schema
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+\d[\d ]{7,16}\d|\(\d{3}\) ?\d{3}-\d{4}|\d{3}[-.]\d{3}[-.]\d{4}")
REPORT: dict[str, dict[str, Any]] = {}


class Gateway:
    """The whole gateway over in-process simulators, driven from synchronous hypothesis tests; "Did you
    mean" on (dev mode), the stronger case for suggestions; budgets out of the way, limits as shipped.
    ``compiled``: Harmonia's compiled executor (the default), else graphql-core's for every operation."""

    def __init__(self, compiled: bool = True) -> None:
        from harmonia.app import create_app

        self.runner = asyncio.Runner()
        sim = SimulatorState(SimulatorConfig(seed=7, rate_limits=False), world=build_world(7))
        transport = httpx.ASGITransport(app=create_simulator_app(state=sim))
        settings_ = gateway_settings(dev_mode=True, limits={"budget_maximum": 10**12, "budget_restore_rate": 10**9},
                                     sources={"shopify": {"bucket_size": 10**6, "leak_per_second": 10**6}},
                                     observability={"operation_log": False}, execution={"compiled": compiled})
        self.app = create_app(settings_, transports=dict.fromkeys(SOURCES, transport))
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gw")
        self.tokens = {role: token_for(role, sub=f"hostile-{role}") for role in (*ROLES, "admin")}

    def post(self, role: str, body: dict[str, Any]) -> httpx.Response:
        return self.runner.run(self.client.post("/graphql", json=body,
                                                headers={"Authorization": f"Bearer {self.tokens[role]}"}))

    def data(self, query: str, role: str = "admin") -> dict[str, Any]:
        body: dict[str, Any] = self.post(role, {"query": query}).json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.run(self.app.state.aclose())
        self.runner.close()


@pytest.fixture(scope="module")
def gateways() -> Iterator[dict[str, Gateway]]:
    """One gateway per executor, started when first asked for."""
    started: dict[str, Gateway] = {}
    yield started
    for driven in started.values():
        driven.close()
    for role, report in REPORT.items():
        print(f"authorization properties, {role}: {report['sent']} operations ({report['distinct']} distinct), "
              f"{report['seconds']:.0f} s; answers with data "
              f"{report['with_data']}, with errors {report['errors']}")


@pytest.fixture(scope="module")
def seeded(gateway: Gateway) -> Seeded:
    """The first hundred customers, orders and campaigns of the seeded data: what the operations aim at."""
    data = gateway.data("{ customers(first: 100) { edges { node { id email } } } "
                        "orders(first: 100) { edges { node { id } } } "
                        "campaigns(first: 100) { edges { node { id } } } }")
    customers = [e["node"] for e in data["customers"]["edges"]]
    return Seeded(customer_ids=[c["id"] for c in customers],
                  order_ids=[e["node"]["id"] for e in data["orders"]["edges"]],
                  campaign_ids=[e["node"]["id"] for e in data["campaigns"]["edges"]],
                  emails=[c["email"] for c in customers if c["email"]])


@pytest.fixture(scope="module")
def secrets(world: World) -> tuple[set[str], set[str]]:
    """Every email (lower case) and phone (its last ten digits) of the seeded world, in every source."""
    emails: set[str] = set()
    phones: set[str] = set()

    def note(email: Any, phone: Any) -> None:
        if isinstance(email, str) and "@" in email:
            emails.add(email.strip().lower())
        digits = re.sub(r"\D", "", phone) if isinstance(phone, str) else ""
        if len(digits) >= 10:
            phones.add(digits[-10:])

    for contact in world.contacts:
        note(contact["properties"].get("email"), contact["properties"].get("phone"))
    for customer in world.shopify_customers:
        note(customer.get("email"), customer.get("phone"))
    for member in world.members.values():
        note(member.get("email_address"), None)
    for order in world.orders:
        note(order.get("email"), order.get("phone"))
    return emails, phones


def generated(strategy: st.SearchStrategy[Any], count: int) -> list[DocumentNode]:
    """About ``count`` documents from a hypothesis-graphql strategy (derandomized: the same every run),
    leaving out the longest (over 1,500 characters, about one in ten): the gateway's validation of a
    novel document costs ~10 ms per thousand characters, which would be most of the run's time."""
    found: list[DocumentNode] = []

    @settings(max_examples=count, database=None, deadline=None, derandomize=SEED is None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(document: DocumentNode) -> None:
        if len(print_ast(document)) <= 1500:
            found.append(document)

    collect()
    return found


@pytest.fixture(scope="module")
def full_pool() -> list[DocumentNode]:
    """Over the full schema (the admin plane and every denied field included), valid and invalid."""
    valid = generated(queries(FULL_SCHEMA, print_ast=lambda d: d, allow_x00=False), POOL["full"])
    invalid = generated(queries(FULL_SCHEMA, print_ast=lambda d: d, allow_x00=False, mode=Mode.NEGATIVE),
                        POOL["invalid"])
    return valid + invalid


def role_view(gateway: Gateway, role: str) -> GraphQLSchema:
    """The schema as the role's own introspection shows it: what a client of that role generates from."""
    return build_client_schema(gateway.data(get_introspection_query(), role))


def leaks(text: str, asked: str, secrets: tuple[set[str], set[str]]) -> list[str]:
    """Clear emails and phones of the seeded data in ``text`` that the request did not carry itself."""
    emails, phones = secrets
    found = [m for m in EMAIL.findall(text) if m.lower() in emails and m.lower() not in asked]
    for match in PHONE.findall(text):
        digits = re.sub(r"\D", "", match)
        if len(digits) >= 10 and digits[-10:] in phones and digits[-10:] not in re.sub(r"\D", "", asked):
            found.append(match)
    return found


@pytest.fixture(scope="module")
def gateway(gateways: dict[str, Gateway]) -> Gateway:
    return gateways.setdefault("compiled", Gateway())


# Each role on the compiled executor; the analyst's masks once more on graphql-core's (a fifth of the
# operations): each executor answers the runtime type the masks are decided by.
RUNS = [(role, "compiled", EXAMPLES) for role in ROLES] + [("analyst", "graphql-core", EXAMPLES // 5)]


@pytest.mark.parametrize(("role", "executor", "count"), RUNS)
def test_no_spelling_of_an_operation_gets_a_role_more_than_the_contract_lets_it_read(
    role: str, executor: str, count: int, gateways: dict[str, Gateway], seeded: Seeded,
    secrets: tuple[set[str], set[str]], full_pool: list[DocumentNode],
) -> None:
    gateway = gateways.get(executor) or gateways.setdefault(executor, Gateway(compiled=executor == "compiled"))
    view = generated(queries(role_view(gateway, role), print_ast=lambda d: d, allow_x00=False), POOL["view"])
    operations = HostileOperations(seeded, view + full_pool, writes=role == "analyst")
    expect = Expectations.of(role, FULL_SCHEMA)
    report = REPORT[f"{role} ({executor})"] = {"sent": 0, "distinct": 0, "with_data": 0, "errors": 0,
                                                 "seconds": 0.0}
    texts: set[str] = set()
    started = time.perf_counter()

    @settings(max_examples=count + count // 10, database=None, deadline=None, derandomize=SEED is None,
              suppress_health_check=list(HealthCheck))
    @given(operations.operations())
    def attempt(operation: tuple[str, dict[str, Any]]) -> None:
        text, variables = operation
        response = gateway.post(role, {"query": text, "variables": variables})
        report["sent"] += 1
        texts.add(text)
        body = response.json()
        report["with_data"] += bool(body.get("data"))
        report["errors"] += bool(body.get("errors"))
        asked = (text + json.dumps(variables)).lower()
        problems = expect.check(text, parse(text), variables, response.status_code, body)
        if role == "analyst":
            problems += [f"clear value in the answer: {leak}" for leak in leaks(response.text, asked, secrets)]
        assert not problems, f"{role}: {problems}\n{text}\n{variables}\n{response.text[:2000]}"

    if SEED is not None:
        attempt = seed(int(SEED))(attempt)
    attempt()
    report["distinct"], report["seconds"] = len(texts), time.perf_counter() - started
    assert report["distinct"] >= count
