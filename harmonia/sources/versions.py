"""Which API version each source speaks, and until when its vendor supports it (upstreams.md, 2026-12).

    support = support_of("googleads", "v26")     # Support(ends=date(2027, 10, 1), estimated=True, ...)
    for line in support_warnings(settings.sources, today=date.today()):
        log.warning(line)                         # at startup: past end of support, or within 90 days

Dates come from each vendor's published policy: Google Ads' sunset dates (v19-v22 announced; later
versions about 12 months after release, so estimated), HubSpot's date versions (18 months from their
release month; ``v3`` paths unsupported from September 2027), Shopify's quarterly versions (at least 12
months, ``shopify_admin.version_supported_until``), GA4 Data API ``v1beta`` and Mailchimp ``3.0`` (no end
announced).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from harmonia.sources.shopify_admin import version_supported_until

WARN_DAYS = 90
CURRENT = {"hubspot": "2026-09", "shopify": "2026-10", "mailchimp": "3.0", "ga4": "v1beta", "googleads": "v26"}
_ADS_SUNSET = {19: date(2026, 2, 11), 20: date(2026, 6, 10), 21: date(2026, 8, 5), 22: date(2026, 10, 7)}
_ADS_GONE = date(2025, 12, 31)  # v18 and older: sunset during 2025 or before (the exact day does not matter now)
# Not yet announced: about twelve months after each release (v23 2026-01, v24 2026-04, v25 2026-07, v26 2026-10).
_ADS_ESTIMATED = {23: date(2027, 1, 1), 24: date(2027, 4, 1), 25: date(2027, 7, 1), 26: date(2027, 10, 1)}
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Support:
    source: str
    version: str
    ends: date | None        # None: no end announced
    estimated: bool = False  # the vendor has not published the exact date yet
    known: bool = True       # False: a version Harmonia knows nothing about

    def days_left(self, today: date) -> int | None:
        return None if self.ends is None else (self.ends - today).days

    def describe(self, today: date) -> str:
        """``2026-09 until 2028-03-01``; ``~`` marks a date the vendor has not published yet."""
        if not self.known:
            return f"{self.version}, unknown version"
        if self.ends is None:
            return f"{self.version}, no end announced"
        about = "~" if self.estimated else ""
        verb = "ended" if (self.days_left(today) or 0) < 0 else "until"
        return f"{self.version} {verb} {about}{self.ends.isoformat()}"


def _months_after(version: str, months: int) -> date | None:
    match = _YEAR_MONTH.match(version)
    if match is None:
        return None
    total = int(match.group(1)) * 12 + int(match.group(2)) - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def support_of(source: str, version: str) -> Support:
    version = version.strip()
    if source == "googleads":
        number = int(version[1:]) if re.fullmatch(r"v\d+", version) else -1
        if number in _ADS_SUNSET:
            return Support(source, version, _ADS_SUNSET[number])
        if number in _ADS_ESTIMATED:
            return Support(source, version, _ADS_ESTIMATED[number], estimated=True)
        if 0 <= number < 19:
            return Support(source, version, _ADS_GONE, estimated=True)
        return Support(source, version, None, known=False)
    if source == "hubspot":
        if version.lower() == "v3":
            return Support(source, version, date(2027, 9, 1))
        ends = _months_after(version, 18)
        return Support(source, version, ends) if ends else Support(source, version, None, known=False)
    if source == "shopify":
        ends = version_supported_until(version)
        return Support(source, version, ends) if ends else Support(source, version, None, known=False)
    if source == "ga4":
        return Support(source, version, None, known=version in ("v1beta", "v1alpha"))
    return Support(source, version, None, known=version == "3.0")


def configured_versions(sources: Any) -> dict[str, str]:
    """Source name -> the version its settings name (Mailchimp's is fixed)."""
    found = {"mailchimp": "3.0"}
    for name in ("hubspot", "shopify", "ga4", "googleads"):
        found[name] = str(getattr(getattr(sources, name), "api_version", CURRENT[name]))
    return found


def support_warnings(sources: Any, *, today: date) -> list[str]:
    """One line per source whose version is past its end of support or within ``WARN_DAYS`` of it."""
    lines = []
    for name, version in configured_versions(sources).items():
        support = support_of(name, version)
        left = support.days_left(today)
        setting = f"HARMONIA_SOURCES__{name.upper()}__API_VERSION"
        if left is not None and left < 0:
            lines.append(f"{name}: API version {version} is past its end of support ({support.ends}); "
                         f"set {setting}={CURRENT[name]}")
        elif left is not None and left <= WARN_DAYS:
            about = "about " if support.estimated else ""
            lines.append(f"{name}: API version {version} reaches its end of support on {about}{support.ends} "
                         f"({left} days); plan a move to {CURRENT[name]} ({setting})")
    return lines
