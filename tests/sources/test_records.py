"""Records built by the decoders' direct constructor are the very records the class builds."""

from __future__ import annotations

import dataclasses

import pytest

from harmonia.cache.codec import RecordCodec
from harmonia.sources.records import Contact, Money, ShopifyOrder, direct_constructor

ORDER = {"id": "1001", "name": "#1001", "created_at": "2026-01-02T03:04:05Z", "total_price": Money("19.90", "EUR"),
         "financial_status": "paid", "email": "ada@example.com", "cancelled_at": None, "closed_at": None}
CONTACT = {"id": "151", "email": "ada@example.com", "first_name": "Ada", "last_name": None, "phone": "+15551234567",
           "lifecycle_stage": "lead", "created_at": None, "updated_at": None, "shopify_customer_id": "7",
           "archived": False}


@pytest.mark.parametrize(("cls", "values"), [(ShopifyOrder, ORDER), (Contact, CONTACT)])
def test_a_directly_built_record_equals_hashes_and_round_trips_like_the_class_built_one(
    cls: type, values: dict[str, object],
) -> None:
    direct = direct_constructor(cls)(**values)
    built = cls(**values)
    assert type(direct) is cls
    assert direct == built and hash(direct) == hash(built)
    assert dataclasses.asdict(direct) == dataclasses.asdict(built)
    codec = RecordCodec([cls, Money])
    assert codec.decode(codec.encode(direct)) == built
    with pytest.raises(dataclasses.FrozenInstanceError):
        direct.id = "other"  # type: ignore[attr-defined]


def test_a_missing_or_unknown_field_is_refused_not_half_built() -> None:
    make = direct_constructor(Contact)
    missing = {k: v for k, v in CONTACT.items() if k != "archived"}
    with pytest.raises(TypeError):
        make(**missing)
    with pytest.raises(TypeError):
        make(**CONTACT, nickname="ada")


def test_only_slotted_records_get_one() -> None:
    @dataclasses.dataclass(frozen=True)
    class Plain:
        x: int

    with pytest.raises(TypeError, match="not a slot"):
        direct_constructor(Plain)
