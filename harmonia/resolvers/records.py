"""Records the resolvers build from several sources (the schema layer wraps them)."""

from __future__ import annotations

from dataclasses import dataclass

from harmonia.sources.records import MailchimpReportSummary, Money


@dataclass(frozen=True, slots=True)
class DateRange:
    start_date: str
    end_date: str


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A Mailchimp campaign (EMAIL) or a Google Ads campaign (SEARCH), in one shape."""

    source: str  # "mailchimp" | "googleads"
    id: str
    name: str
    channel: str  # "EMAIL" | "SEARCH"
    status: str | None
    send_time: str | None = None
    emails_sent: int | None = None
    summary: MailchimpReportSummary | None = None


@dataclass(frozen=True, slots=True)
class CampaignStatsRecord:
    """Mailchimp report or Google Ads metrics; fields the channel does not have stay None."""

    clicks: int | None = None
    emails_sent: int | None = None
    opens: int | None = None
    unique_opens: int | None = None
    open_rate: float | None = None
    unique_clicks: int | None = None
    click_rate: float | None = None
    unsubscribed: int | None = None
    impressions: int | None = None
    cost: Money | None = None
    conversions: float | None = None
    ctr: float | None = None


@dataclass(frozen=True, slots=True)
class AnalyticsSummaryRecord:
    sessions: int
    total_users: int
    new_users: int
    conversions: float
    engagement_rate: float | None
    total_revenue: Money
