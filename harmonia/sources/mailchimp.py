"""Mailchimp Marketing API 3.0: campaigns, their reports, and list members looked up by email.

    account = MailchimpAccount.from_settings(settings.sources.mailchimp)
    page = await account.list_campaigns(count=20)                  # Page[MailchimpCampaign]
    reports = await account.get_reports([c.id for c in page.items])
    members = await account.get_members(["  Ada@Example.com "])    # {"ada@example.com": MailchimpMember}
    await account.aclose()

Mailchimp has no multi-id read, so batches are one GET per distinct key issued concurrently; its
limit is 10 connections in flight per key, which a ``ConcurrencyPacer`` keeps us under.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from harmonia.errors import UpstreamUnavailable
from harmonia.settings import MailchimpSettings
from harmonia.sources._http import SourceHttp, build_client, read_json
from harmonia.sources.normalize import normalize_datetime, normalize_email
from harmonia.sources.pacing import ConcurrencyPacer
from harmonia.sources.records import (
    MailchimpCampaign,
    MailchimpMember,
    MailchimpReport,
    MailchimpReportSummary,
    Page,
)

SOURCE = "mailchimp"
MAX_COUNT = 1000  # Mailchimp's largest page


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    # MD5 here is Mailchimp's naming scheme, not a security measure.
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()


class MailchimpAccount:
    """One Mailchimp account (API key) and its audience list."""

    def __init__(self, http: SourceHttp, list_id: str) -> None:
        self.http = http
        self.list_id = list_id

    @classmethod
    def from_settings(
        cls, settings: MailchimpSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> MailchimpAccount:
        client = build_client(settings, headers={"Accept": "application/json"},
                              auth=("anystring", settings.api_key), transport=transport)
        http = SourceHttp(SOURCE, client, pacer=ConcurrencyPacer(settings.max_concurrency),
                          max_retries=settings.max_retries)
        return cls(http, settings.list_id)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def list_campaigns(self, count: int, offset: int = 0) -> Page[MailchimpCampaign]:
        """One page, oldest first; ``next_cursor`` is the next offset while campaigns remain."""
        count = max(1, min(count, MAX_COUNT))
        offset = max(0, offset)
        # Mailchimp documents no default order, so ask for one: pages then never overlap or skip.
        params = {"count": count, "offset": offset, "sort_field": "create_time", "sort_dir": "ASC",
                  "exclude_fields": "campaigns._links,_links"}
        body = await self._get_json("/3.0/campaigns", params=params)
        try:
            items = [_campaign(c) for c in body["campaigns"]]
            total = int(body["total_items"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable() from exc
        next_cursor = str(offset + count) if offset + count < total else None
        return Page(items=items, next_cursor=next_cursor, total=total)

    async def all_campaigns(self) -> list[MailchimpCampaign]:
        first = await self.list_campaigns(MAX_COUNT)
        if first.total is None or first.next_cursor is None:
            return first.items
        rest = await asyncio.gather(*(self.list_campaigns(MAX_COUNT, offset)
                                      for offset in range(MAX_COUNT, first.total, MAX_COUNT)))
        campaigns = list(first.items)
        seen = {c.id for c in campaigns}
        for page in rest:
            # A campaign created between pages shifts the offsets; never report one twice.
            campaigns.extend(c for c in page.items if c.id not in seen)
            seen.update(c.id for c in page.items)
        return campaigns

    async def get_campaign(self, campaign_id: str) -> MailchimpCampaign | None:
        if not campaign_id:
            return None
        body = await self._get_json_or_none(f"/3.0/campaigns/{quote(campaign_id, safe='')}",
                                            params={"exclude_fields": "_links"})
        if body is None:
            return None
        try:
            return _campaign(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable() from exc

    async def get_reports(self, campaign_ids: Sequence[str]) -> dict[str, MailchimpReport]:
        """Reports for the campaigns that have one (sent campaigns); the rest are simply absent."""
        ids = list(dict.fromkeys(i for i in campaign_ids if i))
        bodies = await asyncio.gather(*(self._get_json_or_none(f"/3.0/reports/{quote(i, safe='')}",
                                                               params={"exclude_fields": "_links"})
                                        for i in ids))
        try:
            return {i: _report(i, body) for i, body in zip(ids, bodies, strict=True) if body is not None}
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable() from exc

    async def get_members(self, emails: Sequence[str]) -> dict[str, MailchimpMember]:
        """Members of the configured list by normalized email; addresses not on the list are absent."""
        by_hash: dict[str, str] = {}
        for raw in emails:
            email = normalize_email(raw)
            if email is not None:
                by_hash.setdefault(subscriber_hash(email), email)
        list_path = f"/3.0/lists/{quote(self.list_id, safe='')}/members"
        hashes = list(by_hash)
        bodies = await asyncio.gather(*(self._get_json_or_none(f"{list_path}/{h}",
                                                               params={"exclude_fields": "_links"})
                                        for h in hashes))
        try:
            return {by_hash[h]: _member(body, self.list_id)
                    for h, body in zip(hashes, bodies, strict=True) if body is not None}
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable() from exc

    async def _get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self._get_json_or_none(path, params)
        if body is None:
            raise UpstreamUnavailable(SOURCE, "mailchimp could not find the list or resource configured")
        return body

    async def _get_json_or_none(
        self, path: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        response = await self.http.request("GET", path, params=params)
        if response.status_code == 404:
            return None
        try:
            body = read_json(response)
        except ValueError as exc:
            raise _unreadable() from exc
        if not isinstance(body, dict):
            raise _unreadable()
        return body


def _unreadable() -> UpstreamUnavailable:
    return UpstreamUnavailable(SOURCE, "mailchimp sent a response Harmonia could not read")


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _campaign(body: dict[str, Any]) -> MailchimpCampaign:
    settings = body.get("settings") or {}
    recipients = body.get("recipients") or {}
    return MailchimpCampaign(
        id=str(body["id"]),
        title=settings.get("title") or settings.get("subject_line") or "",
        status=str(body["status"]),
        type=str(body.get("type") or "regular"),
        # Unsent campaigns carry send_time "" rather than null.
        send_time=normalize_datetime(body.get("send_time") or None),
        create_time=normalize_datetime(body.get("create_time") or None),
        list_id=recipients.get("list_id") or None,
        emails_sent=_optional_int(body.get("emails_sent")),
        summary=_summary(body.get("report_summary")),
    )


def _summary(body: Any) -> MailchimpReportSummary | None:
    """Tolerant: unsent campaigns have none, and partial responses may leave fields out."""
    if not isinstance(body, dict) or "opens" not in body:
        return None
    return MailchimpReportSummary(
        opens=int(body.get("opens") or 0), unique_opens=int(body.get("unique_opens") or 0),
        open_rate=float(body.get("open_rate") or 0.0), clicks=int(body.get("clicks") or 0),
        subscriber_clicks=int(body.get("subscriber_clicks") or 0), click_rate=float(body.get("click_rate") or 0.0),
    )


def _report(campaign_id: str, body: dict[str, Any]) -> MailchimpReport:
    opens = body.get("opens") or {}
    clicks = body.get("clicks") or {}
    return MailchimpReport(
        campaign_id=str(body.get("id") or campaign_id),
        emails_sent=int(body.get("emails_sent") or 0),
        unique_opens=int(opens.get("unique_opens") or 0),
        opens_total=int(opens.get("opens_total") or 0),
        open_rate=float(opens.get("open_rate") or 0.0),
        clicks_total=int(clicks.get("clicks_total") or 0),
        unique_clicks=int(clicks.get("unique_clicks") or 0),
        click_rate=float(clicks.get("click_rate") or 0.0),
        unsubscribed=int(body.get("unsubscribed") or 0),
        abuse_reports=int(body.get("abuse_reports") or 0),
        send_time=normalize_datetime(body.get("send_time") or None),
    )


def _member(body: dict[str, Any], list_id: str) -> MailchimpMember:
    merge = body.get("merge_fields") or {}
    return MailchimpMember(
        id=str(body["id"]),
        email=normalize_email(body["email_address"]) or "",
        status=str(body["status"]),
        list_id=str(body.get("list_id") or list_id),
        first_name=merge.get("FNAME") or None,
        last_name=merge.get("LNAME") or None,
    )
