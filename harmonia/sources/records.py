"""Plain records the connectors return: normalized values, no wire quirks, no framework types.

Emails are lower-cased and trimmed, phones E.164, datetimes ISO 8601 UTC with a ``Z``
(``2024-05-01T10:15:00Z``), money an exact decimal string plus an ISO currency code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from types import MemberDescriptorType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def direct_constructor(cls: type[R]) -> Callable[..., R]:
    """``cls(**values)`` for a frozen slotted record, with every field required, that fills each slot
    directly: a frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field (1.4 us
    for an order or a contact; decoding a page builds fifty). The same record: equal, same hash,
    still frozen. For decoders that pass every field; anything else calls the class."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    for name in names:
        slot = cls.__dict__.get(name)
        if not isinstance(slot, MemberDescriptorType):
            raise TypeError(f"{cls.__name__}.{name} is not a slot")
        namespace[f"set_{name}"] = slot.__set__
    lines = [f"def make(*, {', '.join(names)}):", "    record = new(cls)"]
    lines += [f"    set_{name}(record, {name})" for name in names]
    lines.append("    return record")
    exec("\n".join(lines), namespace)  # the source is built from the dataclass's own field names only
    maker: Callable[..., R] = namespace["make"]
    return maker


@dataclass(frozen=True, slots=True)
class Money:
    amount: str
    currency_code: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a source's list; ``next_cursor`` is the source's own cursor, opaque to callers."""

    items: list[T]
    next_cursor: str | None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """A HubSpot CRM contact."""

    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    lifecycle_stage: str | None
    created_at: str | None
    updated_at: str | None
    shopify_customer_id: str | None
    archived: bool = False


@dataclass(frozen=True, slots=True)
class ShopifyCustomer:
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    orders_count: int | None
    total_spent: Money | None
    created_at: str | None
    email_marketing_state: str | None


@dataclass(frozen=True, slots=True)
class LineItem:
    title: str
    quantity: int
    price: Money


@dataclass(frozen=True, slots=True)
class ShopifyOrder:
    """An order as a page or a batch reads it. Its line items and its campaign cost Shopify far more
    points than the rest of it, so they are read only when a query asks for them (``OrderLineItems``,
    ``OrderAttribution``)."""

    id: str
    name: str
    created_at: str
    total_price: Money
    financial_status: str | None
    email: str | None
    cancelled_at: str | None = None
    closed_at: str | None = None


@dataclass(frozen=True, slots=True)
class OrderLineItems:
    order_id: str
    items: tuple[LineItem, ...]
    readable: bool = True  # False: Shopify answered an error for this order's items


@dataclass(frozen=True, slots=True)
class OrderAttribution:
    """The ``utm_campaign`` of the visit that converted, if any."""

    order_id: str
    utm_campaign: str | None


@dataclass(frozen=True, slots=True)
class MailchimpMember:
    id: str
    email: str
    status: str
    list_id: str
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True, slots=True)
class MailchimpReportSummary:
    """The ``report_summary`` a sent campaign carries: enough for most stats without a report call."""

    opens: int
    unique_opens: int
    open_rate: float
    clicks: int
    subscriber_clicks: int
    click_rate: float


@dataclass(frozen=True, slots=True)
class MailchimpCampaign:
    id: str
    title: str
    status: str
    type: str
    send_time: str | None
    create_time: str | None
    list_id: str | None
    emails_sent: int | None = None
    summary: MailchimpReportSummary | None = None


@dataclass(frozen=True, slots=True)
class MailchimpReport:
    campaign_id: str
    emails_sent: int
    unique_opens: int
    opens_total: int
    open_rate: float
    clicks_total: int
    unique_clicks: int
    click_rate: float
    unsubscribed: int
    abuse_reports: int
    send_time: str | None


@dataclass(frozen=True, slots=True)
class AdsCampaign:
    id: str
    name: str
    status: str
    channel_type: str | None = None


@dataclass(frozen=True, slots=True)
class AdsMetrics:
    """Google Ads metrics for one campaign, summed over the rows asked for."""

    campaign_id: str
    impressions: int
    clicks: int
    cost_micros: int
    conversions: float


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One GA4 ``runReport`` request, in Harmonia's terms (the connector writes the wire body)."""

    start_date: str
    end_date: str
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    # Restrict one dimension to a set of exact values (GA4 ``inListFilter``).
    in_list_dimension: str | None = None
    in_list_values: tuple[str, ...] = ()
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class MetricHeader:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class ReportRow:
    dimension_values: tuple[str, ...]
    metric_values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """A GA4 report: values stay GA4's strings; ``row_count`` is the full size, not the page."""

    dimension_headers: tuple[str, ...]
    metric_headers: tuple[MetricHeader, ...]
    rows: tuple[ReportRow, ...]
    row_count: int
    currency_code: str | None = None
    time_zone: str | None = None
    totals: tuple[str, ...] | None = field(default=None)
