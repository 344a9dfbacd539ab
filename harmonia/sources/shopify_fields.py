"""The fields Harmonia reads of Shopify's orders and customers, and how it reads without the optional ones.

    order = ORDER.shape(frozenset())                       # Shape(text="id name email ...", cost=3)
    ORDER.shape(frozenset({("Order", "email")}))           # the buyer's email through order.customer instead

upstreams.md lists the fields of the 2026-10 schema it checked; a few that Harmonia reads are not on
that list (an order's ``email``, ``cancelledAt``, ``closedAt``). A shop, a proxy or a later version that
does not have one answers a validation error naming it; the connector then reads on without that
field (``ShopifyStore`` learns it once), or with a stand-in: without ``Order.email``, the email of the
order's customer. A field marked required cannot be done without: its absence is an outage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

MONEY = "{ shopMoney { amount currencyCode } }"
Missing = frozenset[tuple[str, str]]  # (type, field) pairs the shop said it does not have


class Shape(NamedTuple):
    text: str   # the selection, without braces
    cost: int   # one record, the object itself included


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    text: str = ""              # what is sent; the name alone when empty
    cost: int = 0               # 0 for scalars and enums, 1 an object (plus its own objects)
    required: bool = False
    instead_of: str | None = None  # sent only when that field of the same type is missing


@dataclass(frozen=True, slots=True)
class Selection:
    type_name: str
    fields: tuple[Field, ...]

    def shape(self, missing: Missing) -> Shape:
        absent = {name for kind, name in missing if kind == self.type_name}
        chosen = [f for f in self.fields if f.name not in absent
                  and (f.instead_of is None or f.instead_of in absent)]
        return Shape(" ".join(f.text or f.name for f in chosen), 1 + sum(f.cost for f in chosen))

    def can_do_without(self, name: str) -> bool:
        return any(f.name == name and not f.required for f in self.fields)


ORDER = Selection("Order", (
    Field("id", required=True), Field("name", required=True), Field("createdAt", required=True),
    Field("totalPriceSet", f"totalPriceSet {MONEY}", 2, required=True),
    Field("email"), Field("displayFinancialStatus"), Field("cancelledAt"), Field("closedAt"),
    Field("customer", "customer { id defaultEmailAddress { emailAddress } }", 2, instead_of="email"),
))
CUSTOMER = Selection("Customer", (
    Field("id", required=True),
    Field("defaultEmailAddress", "defaultEmailAddress { emailAddress marketingState }", 1, required=True),
    Field("firstName"), Field("lastName"), Field("createdAt"), Field("numberOfOrders"),
    Field("amountSpent", "amountSpent { amount currencyCode }", 1),
    Field("defaultPhoneNumber", "defaultPhoneNumber { phoneNumber }", 1),
))
SELECTIONS = {s.type_name: s for s in (ORDER, CUSTOMER)}

# graphql-ruby (Shopify): "Field 'email' doesn't exist on type 'Order'"; graphql-js and graphql-core:
# "Cannot query field 'email' on type 'Order'." (quotes straight or double).
_UNDEFINED = re.compile(r"""(?:Field ['"](\w+)['"] doesn't exist on type ['"](\w+)['"]"""
                        r"""|Cannot query field ['"](\w+)['"] on type ['"](\w+)['"])""")


def undefined_fields(errors: Iterable[Any]) -> set[tuple[str, str]]:
    """The (type, field) pairs a validation error says do not exist."""
    found: set[tuple[str, str]] = set()
    for error in errors:
        if not isinstance(error, Mapping):
            continue
        extensions = error.get("extensions")
        if isinstance(extensions, Mapping) and extensions.get("code") == "undefinedField" \
                and isinstance(extensions.get("typeName"), str) and isinstance(extensions.get("fieldName"), str):
            found.add((extensions["typeName"], extensions["fieldName"]))
            continue
        match = _UNDEFINED.search(str(error.get("message", "")))
        if match:
            name, kind = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
            found.add((kind, name))
    return found


def can_do_without(fields: Iterable[tuple[str, str]]) -> bool:
    return all(kind in SELECTIONS and SELECTIONS[kind].can_do_without(name) for kind, name in fields)
