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
    OrderAttribution,
    OrderLineItems,
    Page,
    Report,
    ReportRow,
    ShopifyOrder,
)

codec = RecordCodec(RECORD_TYPES)


def roundtrip(value: object) -> object:
    return codec.decode(orjson.loads(orjson.dumps(codec.encode(value))))


def test_an_order_page_and_an_orders_line_items_come_back_equal() -> None:
    order = ShopifyOrder(id="1", name="#1001", created_at="2024-05-01T10:15:00Z", total_price=Money("19.90", "USD"),
                         financial_status="paid", email="ada@example.com")
    page = Page(items=[order], next_cursor="abc", total=None)
    items = OrderLineItems("1", (LineItem("Mug", 2, Money("9.95", "USD")), LineItem("", 1, Money("5.00", "USD"))))

    assert roundtrip(page) == page
    back = roundtrip(items)
    assert back == items and isinstance(back.items, tuple)  # type: ignore[attr-defined]
    assert roundtrip(OrderAttribution("1", None)) == OrderAttribution("1", None)


def test_an_order_written_by_the_rest_connector_is_a_miss() -> None:
    """What the gateway wrote before the GraphQL Admin API: refused, so read again from Shopify."""
    old = {"$": "ShopifyOrder", "id": "1", "name": "#1001", "created_at": "2024-05-01T10:15:00Z",
           "total_price": {"$": "Money", "amount": "19.90", "currency_code": "USD"}, "financial_status": "paid",
           "customer_id": "7", "email": "ada@example.com", "line_items_wire": ["Mug", 2, "9.95", "USD"],
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
