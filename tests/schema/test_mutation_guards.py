"""What stands before a write: field policies, the privacy scope, idempotency keys and the cost budget."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from harmonia.auth.policy_file import parse_policy
from harmonia.auth.principal import Principal
from harmonia.errors import Forbidden
from harmonia.resolvers.context import RequestContext
from harmonia.resolvers.ids import encode_id
from harmonia.schema.mutations import _may_write_customer_fields
from harmonia.simulators.core import Fault, SimulatorState
from harmonia.simulators.data import World
from tests.conftest import Gateway, open_gateway, token_for
from tests.schema.test_mutations import CAMPAIGN_STATUS, CONSENT, UPDATE, customer_id, linked_person, writes

ERASE = 'mutation($id: ID!) { eraseCustomer(id: $id) { state } }'
STATUS = 'query($id: ID!) { erasureStatus(id: $id) { state } }'


def patches(gateway: Gateway) -> int:
    return sum(1 for r in writes(gateway) if r["method"] == "PATCH")


# --- field policies and the privacy scope ------------------------------------------------------

@pytest.mark.parametrize(("role", "query", "variables"), [
    ("analyst", UPDATE, {"input": {"lifecycleStage": "lead"}}),
    ("analyst", CONSENT, {"status": "unsubscribed"}),
    ("support", CAMPAIGN_STATUS, {"action": "PAUSE"}),
])
async def test_a_role_the_policy_does_not_let_write_gets_forbidden_and_no_upstream_call(
    writable_gateway: Gateway, writable_world: World, role: str, query: str, variables: dict[str, str]
) -> None:
    contact, _, _ = linked_person(writable_world)
    gid = encode_id("Campaign", "googleads", "148") if query is CAMPAIGN_STATUS else customer_id(contact)
    body = await writable_gateway.query(query, {"id": gid, **variables}, role=role)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert sum(writable_gateway.upstream_calls().values()) == 0


@pytest.mark.parametrize(("role", "query", "variables"), [
    ("marketer", UPDATE, {"input": {"lifecycleStage": "lead"}}),
    ("marketer", CONSENT, {"status": "unsubscribed"}),
    ("support", CONSENT, {"status": "unsubscribed"}),
])
async def test_marketers_and_support_may_make_their_changes(
    writable_gateway: Gateway, writable_world: World, role: str, query: str, variables: dict[str, str]
) -> None:
    contact, _, _ = linked_person(writable_world)
    body = await writable_gateway.query(query, {"id": customer_id(contact), **variables}, role=role)
    assert "errors" not in body, body


@pytest.mark.parametrize(("roles", "query"), [(("admin",), ERASE), (("marketer",), ERASE), (("support",), ERASE),
                                              (("admin",), STATUS)])
async def test_erasure_without_the_privacy_scope_is_forbidden_before_any_upstream_call(
    writable_gateway: Gateway, writable_world: World, roles: tuple[str, ...], query: str
) -> None:
    contact, _, _ = linked_person(writable_world)
    body = await writable_gateway.query(query, {"id": customer_id(contact)}, token=token_for(*roles))
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "privacy" in error["message"]
    assert sum(writable_gateway.upstream_calls().values()) == 0


async def test_the_analyst_role_may_not_erase_even_with_the_privacy_scope(
    writable_gateway: Gateway, writable_world: World
) -> None:
    contact, _, _ = linked_person(writable_world)
    body = await writable_gateway.query(ERASE, {"id": customer_id(contact)},
                                        token=token_for("analyst", scopes=("privacy",)))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert sum(writable_gateway.upstream_calls().values()) == 0


async def test_a_field_read_masked_cannot_be_written(gateway: Gateway) -> None:
    policy = parse_policy(
        "types:\n"
        "  Customer: {read: [editor], fields: {phone: {mask: phone}}}\n"
        "  Mutation: {read: [editor]}\n", "editor.yaml")
    ctx = RequestContext(gateway.app.state.sources, Principal("ed", frozenset({"editor"})), gateway.app.state.settings,
                         policy=policy)
    _may_write_customer_fields(ctx, ["lifecycleStage", "email"])
    with pytest.raises(Forbidden, match=r"Customer\.phone"):
        _may_write_customer_fields(ctx, ["lifecycleStage", "phone"])


# --- idempotency keys ----------------------------------------------------------------------------

async def test_a_retry_with_the_same_key_returns_the_first_answer_without_a_second_write(
    writable_gateway: Gateway, writable_world: World
) -> None:
    contact, _, _ = linked_person(writable_world)
    variables = {"id": customer_id(contact), "input": {"lifecycleStage": "opportunity"}, "key": "k-1"}

    first = await writable_gateway.query(UPDATE, variables)
    contact["properties"]["lifecyclestage"] = "lead"  # someone changes it in HubSpot in between
    retry = await writable_gateway.query(UPDATE, variables)

    assert first["data"]["updateCustomer"]["replayed"] is False
    assert retry["data"]["updateCustomer"]["replayed"] is True
    assert retry["data"]["updateCustomer"]["customer"] == first["data"]["updateCustomer"]["customer"]
    assert patches(writable_gateway) == 1
    assert contact["properties"]["lifecyclestage"] == "lead"  # the retry did not write again


async def test_the_idempotency_key_header_works_like_the_argument(
    writable_gateway: Gateway, writable_world: World
) -> None:
    contact, _, _ = linked_person(writable_world)
    variables = {"id": customer_id(contact), "input": {"firstName": "Ada"}}
    for _ in range(2):
        response = await writable_gateway.post(UPDATE, variables, headers={"Idempotency-Key": "hdr-1"})
        assert response.status_code == 200
    assert response.json()["data"]["updateCustomer"]["replayed"] is True
    assert patches(writable_gateway) == 1


async def test_a_key_reused_with_other_input_is_refused(writable_gateway: Gateway, writable_world: World) -> None:
    contact, _, _ = linked_person(writable_world)
    await writable_gateway.query(UPDATE, {"id": customer_id(contact), "input": {"firstName": "Ada"}, "key": "k-2"})
    body = await writable_gateway.query(UPDATE, {"id": customer_id(contact), "input": {"firstName": "Bo"},
                                                 "key": "k-2"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert patches(writable_gateway) == 1
    assert contact["properties"]["firstname"] == "Ada"


async def test_concurrent_retries_with_one_key_write_once(writable_gateway: Gateway, writable_world: World) -> None:
    contact, _, _ = linked_person(writable_world)
    variables = {"id": customer_id(contact), "input": {"lastName": "Byron"}, "key": "k-3"}
    bodies = await asyncio.gather(*(writable_gateway.query(UPDATE, variables) for _ in range(4)))
    assert sorted(b["data"]["updateCustomer"]["replayed"] for b in bodies) == [False, True, True, True]
    assert patches(writable_gateway) == 1


async def test_a_failed_write_frees_its_key_so_a_retry_writes(writable_gateway: Gateway, writable_world: World) -> None:
    contact, _, _ = linked_person(writable_world)
    variables = {"id": customer_id(contact), "input": {"lastName": "Byron"}, "key": "k-4"}
    writable_gateway.sim.faults["hubspot"] = Fault(status=503, rate=1.0, latency_ms=0, until=float("inf"))
    failed = await writable_gateway.query(UPDATE, variables)
    assert failed["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    writable_gateway.sim.faults.clear()
    retried = await writable_gateway.query(UPDATE, variables)
    assert retried["data"]["updateCustomer"]["replayed"] is False
    assert contact["properties"]["lastname"] == "Byron"


@pytest.fixture
async def two_instances(writable_sim_state: SimulatorState, redis_url: str) -> AsyncIterator[list[Gateway]]:
    """Two gateway instances sharing one real Redis (keys under a prefix of their own)."""
    prefix = f"test-{uuid.uuid4().hex}:"
    opened = [await open_gateway(writable_sim_state, redis_url=redis_url,
                                 idempotency={"key_prefix": prefix + "idem:"},
                                 erasure={"key_prefix": prefix + "erasure:"}) for _ in range(2)]
    yield [g for g, _ in opened]
    for _, close in opened:
        await close()


async def test_with_redis_a_retry_on_another_instance_gets_the_first_answer(
    two_instances: list[Gateway], writable_world: World
) -> None:
    one, other = two_instances
    contact, _, _ = linked_person(writable_world)
    variables = {"id": customer_id(contact), "input": {"lifecycleStage": "customer"}, "key": "k-5"}
    first = await one.query(UPDATE, variables)
    retry = await other.query(UPDATE, variables)
    assert (first["data"]["updateCustomer"]["replayed"], retry["data"]["updateCustomer"]["replayed"]) == (False, True)
    assert patches(one) == 1  # one simulator state behind both instances


# --- pricing -------------------------------------------------------------------------------------

async def test_a_mutation_costs_its_base_of_ten_and_counts_against_the_budget(
    writable_sim_state: SimulatorState, writable_world: World
) -> None:
    gateway, close = await open_gateway(writable_sim_state, limits={"budget_maximum": 20, "budget_restore_rate": 0.01})
    try:
        contact, _, _ = linked_person(writable_world)
        variables = {"id": customer_id(contact), "input": {"lifecycleStage": "lead"}}
        first = await gateway.query(UPDATE, variables)
        cost = first["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 12  # 10 for a mutation + the payload and its customer
        assert cost["throttleStatus"]["currentlyAvailable"] == 8
        second = await gateway.query(UPDATE, variables)
        assert second["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert patches(gateway) == 1
    finally:
        await close()
