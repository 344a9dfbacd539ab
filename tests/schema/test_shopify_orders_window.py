"""A token without ``read_all_orders`` sees 60 days of orders: every answer with order fields says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from harmonia.simulators.core import SimulatorConfig, SimulatorState
from harmonia.simulators.data import World
from tests.conftest import Gateway, open_gateway

NESTED = """{ orders(first: 5) { totalCount edges { node { name } } }
              customers(first: 3) { edges { node { orders(first: 2) { edges { node { name } } } } } } }"""


async def gateway_for(world: World, *, read_all_orders: bool) -> tuple[Gateway, Any]:
    state = SimulatorState(SimulatorConfig(seed=7, rate_limits=False, shopify_read_all_orders=read_all_orders),
                           world=world)
    return await open_gateway(state)


@pytest.fixture
async def limited(world: World) -> AsyncIterator[Gateway]:
    gateway, close = await gateway_for(world, read_all_orders=False)
    yield gateway
    await close()


async def test_order_fields_warn_that_older_orders_are_missing_and_how_to_fix_it(limited: Gateway) -> None:
    body = await limited.query(NESTED)

    assert "errors" not in body
    [warning] = body["extensions"]["warnings"]
    assert (warning["code"], warning["source"]) == ("SHOPIFY_ORDERS_WINDOW", "shopify")
    assert "60 days" in warning["message"] and "read_all_orders" in warning["fix"]
    assert ["orders"] in warning["paths"] and ["orders", "totalCount"] in warning["paths"]
    assert ["customers", "edges", 0, "node", "orders"] in warning["paths"]


async def test_a_single_order_by_id_warns_too(limited: Gateway, world: World) -> None:
    await limited.query("{ orders(first: 1) { edges { node { name } } } }")  # learns the scopes
    body = await limited.query('{ order(id: "T3JkZXI6MQ") { name } }')
    assert body["extensions"]["warnings"][0]["paths"] == [["order"]]


async def test_a_token_with_read_all_orders_gets_no_warning_and_every_order(world: World) -> None:
    gateway, close = await gateway_for(world, read_all_orders=True)
    try:
        body = await gateway.query(NESTED)
    finally:
        await close()
    assert "warnings" not in body["extensions"]
    assert body["data"]["orders"]["totalCount"] == len(world.orders)


async def test_queries_without_order_fields_carry_no_warning(limited: Gateway) -> None:
    await limited.query("{ orders(first: 1) { edges { node { name } } } }")
    body = await limited.query("{ customers(first: 3) { edges { node { email } } } }")
    assert "warnings" not in body["extensions"]
