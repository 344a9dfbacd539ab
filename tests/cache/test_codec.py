"""Records survive the shared tier: what one instance wrote, another reads back equal."""

from __future__ import annotations

import orjson
import pytest

from harmonia.cache.codec import CodecError, RecordCodec
from harmonia.resolvers.cached import RECORD_TYPES
from harmonia.sources.records import (
    Contact,
    LineItem,
    MetricHeader,
    Money,
    Page,
    Report,
    ReportRow,
    ShopifyOrder,
)
from harmonia.sources.shopify import line_items

codec = RecordCodec(RECORD_TYPES)


def roundtrip(value: object) -> object:
    return codec.decode(orjson.loads(orjson.dumps(codec.encode(value))))


def test_an_order_page_with_line_items_comes_back_equal() -> None:
    order = ShopifyOrder(id="1", name="#1001", created_at="2024-05-01T10:15:00Z", total_price=Money("19.90", "USD"),
                         financial_status="paid", customer_id="7", email="ada@example.com",
                         line_items_wire=("Mug", 2, "9.95", "USD", None, 1.0, 5, "USD"), utm_campaign="Spring sale")
    line_items(order)  # decoded once: what it keeps is not part of the record
    page = Page(items=[order], next_cursor="abc", total=None)

    back = roundtrip(page)

    assert back == page
    assert isinstance(back.items[0].line_items_wire, tuple)  # type: ignore[attr-defined]
    assert line_items(back.items[0]) == (  # type: ignore[attr-defined]
        LineItem("Mug", 2, Money("9.95", "USD")), LineItem("", 1, Money("5.00", "USD")))


def test_an_order_written_with_decoded_line_items_is_a_miss() -> None:
    """What the gateway wrote before line items were decoded lazily: refused, so read again from Shopify."""
    old = {"$": "ShopifyOrder", "id": "1", "name": "#1001", "created_at": "2024-05-01T10:15:00Z",
           "total_price": {"$": "Money", "amount": "19.90", "currency_code": "USD"}, "financial_status": "paid",
           "customer_id": "7", "email": "ada@example.com",
           "line_items": [{"$": "LineItem", "title": "Mug", "quantity": 2,
                           "price": {"$": "Money", "amount": "9.95", "currency_code": "USD"}}],
           "utm_campaign": None, "cancelled_at": None, "closed_at": None}

    with pytest.raises(CodecError):
        codec.decode({"$": "Page", "items": [old], "next_cursor": None, "total": None})


def test_a_report_keeps_its_tuples_and_a_contact_its_nones() -> None:
    report = Report(dimension_headers=("date",), metric_headers=(MetricHeader("sessions", "TYPE_INTEGER"),),
                    rows=(ReportRow(("20260101",), ("12",)),), row_count=1, totals=("12",))
    contact = Contact(id="151", email=None, first_name="Ada", last_name=None, phone=None, lifecycle_stage=None,
                      created_at=None, updated_at=None, shopify_customer_id=None)

    assert roundtrip(report) == report
    assert roundtrip([contact, None]) == [contact, None]


def test_an_entry_from_another_version_is_refused_not_misread() -> None:
    with pytest.raises(CodecError):
        codec.decode({"$": "Contact", "id": "1", "renamed_field": "x"})
    with pytest.raises(CodecError):
        codec.decode({"$": "SomethingNew"})
