"""Shopify customers found by email: many addresses in one aliased query, each match checked exactly.

    found = await customers_by_email(store, ["ada@example.com", "bob@example.com"])   # {email: customer}

Each address is an aliased ``customers(first: 1, query: "email:\\"...\\"")`` (``e0``, ``e1``...), its
value a variable, never spliced into the text; text that cannot be an address (quotes, spaces, search
syntax) is never sent. Shopify's search is not documented as exact: a customer found with another
address is looked for again among ten, exactly, so no one is ever given someone else's record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harmonia.sources import shopify_documents as docs
from harmonia.sources.normalize import normalize_email
from harmonia.sources.records import ShopifyCustomer
from harmonia.sources.shopify_records import decode_customer

if TYPE_CHECKING:
    from harmonia.sources.shopify import ShopifyStore

PAGE_MAX = 250


async def customers_by_email(store: ShopifyStore, emails: Sequence[str]) -> dict[str, ShopifyCustomer | None]:
    wanted = {e: normalize_email(e) or "" for e in emails}
    queries = {e: q for e, n in wanted.items() if (q := docs.email_query(n)) is not None}
    found: dict[str, ShopifyCustomer | None] = dict.fromkeys(emails)
    size = max(1, min(PAGE_MAX, int(store.admin.budget() // docs.connection_cost(1, store.customer_fields.cost))))
    pending = list(queries)

    async def lookup(chunk: list[str]) -> None:
        def build() -> tuple[str, Mapping[str, Any], float]:
            return docs.customers_by_email(store.customer_fields, [queries[e] for e in chunk])

        data = await store.run(build)
        for i, email in enumerate(chunk):
            nodes = (data.get(f"e{i}") or {}).get("nodes") or []
            customer = decode_customer(nodes[0]) if nodes else None
            if customer is not None and customer.email != wanted[email]:
                customer = await exact(store, wanted[email])
            found[email] = customer

    await asyncio.gather(*(lookup(pending[at:at + size]) for at in range(0, len(pending), size)))
    return found


async def exact(store: ShopifyStore, email: str) -> ShopifyCustomer | None:
    """The customer with exactly this address among the ten Shopify's search finds first."""
    query = docs.email_query(email)
    if query is None:
        return None

    def build() -> tuple[str, Mapping[str, Any], float]:
        document, cost = docs.email_search(store.customer_fields)
        return document, {"query": query}, cost

    data = await store.run(build)
    for node in (data.get("customers") or {}).get("nodes") or []:
        customer = decode_customer(node)
        if customer is not None and customer.email == email:
            return customer
    return None
