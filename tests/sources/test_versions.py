"""Each source knows its API version's end of support and says so at startup when it is near or past."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from harmonia.app import create_app
from harmonia.settings import SourcesSettings
from harmonia.sources.versions import support_of, support_warnings
from tests.conftest import gateway_settings

TODAY = date(2026, 12, 6)


def sources(**versions: str) -> SourcesSettings:
    current = {"hubspot": "2026-09", "shopify": "2026-10", "ga4": "v1beta", "googleads": "v26"}
    current.update(versions)
    return SourcesSettings.model_validate({name: {"api_version": v} for name, v in current.items()})


def test_todays_versions_raise_no_warning() -> None:
    assert support_warnings(sources(), today=TODAY) == []


@pytest.mark.parametrize(("source", "version", "today", "words"), [
    ("googleads", "v22", TODAY, "past its end of support (2026-10-07)"),
    ("googleads", "v23", TODAY, "reaches its end of support on about 2027-01-01"),
    ("hubspot", "v3", date(2027, 7, 1), "reaches its end of support on 2027-09-01 (62 days)"),
    ("hubspot", "2026-03", date(2027, 9, 2), "past its end of support (2027-09-01)"),
    ("shopify", "2024-04", TODAY, "past its end of support"),
])
def test_a_version_near_or_past_its_end_is_named_with_the_setting_to_change(
        source: str, version: str, today: date, words: str) -> None:
    [line] = [w for w in support_warnings(sources(**{source: version}), today=today) if w.startswith(source)]
    assert line.startswith(f"{source}: API version {version}") and words in line
    assert f"HARMONIA_SOURCES__{source.upper()}__API_VERSION" in line


def test_versions_without_an_announced_end_are_known_but_dateless() -> None:
    assert support_of("ga4", "v1beta").ends is None and support_of("ga4", "v1beta").known
    assert support_of("mailchimp", "3.0").ends is None
    assert not support_of("googleads", "v99").known


def test_the_gateway_warns_at_startup(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="harmonia.sources.versions")
    create_app(gateway_settings(sources={"googleads": {"api_version": "v21"}}))
    assert any("googleads: API version v21 is past its end of support" in r.getMessage() for r in caplog.records)
