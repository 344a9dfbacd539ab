"""``harmonia doctor``: one cheap call per configured source, and what to fix.

    rows = await examine(load_settings(), today=date.today())
    print(render(rows, date.today())); sys.exit(exit_code(rows))

For each source: are the credentials valid (a renewing one is renewed through the same Redis store as
the gateway, so nothing is spent twice), are the scopes Harmonia needs granted, is the API version
still supported, how much quota is left. ``report`` holds the table and the exit code (0 all well,
1 when anything failed; ``strict`` fails on warnings too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import date

from harmonia.doctor.declared import check_declared
from harmonia.doctor.probes import check_ga4, check_googleads, check_hubspot, check_mailchimp, check_shopify
from harmonia.doctor.report import SourceRow, exit_code, render
from harmonia.resolvers.context import Sources, Transports
from harmonia.settings import Settings
from harmonia.sources.declared.loader import EMPTY, DeclaredSet

__all__ = ["examine", "exit_code", "render"]


async def examine(settings: Settings, *, today: date, transports: Transports | None = None,
                  declared: DeclaredSet = EMPTY) -> list[SourceRow]:
    """The five built-in sources, then each of ``declared`` (the folder HARMONIA_SOURCES_DIR names)."""
    # URLs may carry an email or a token (httpx logs them at INFO), and a failed renewal is said in the
    # table with its fix: both loggers are quieter while the doctor runs, and as they were afterwards
    # (the doctor may run inside a process that goes on serving or testing).
    with _quieter({"httpx": logging.WARNING, "harmonia.credentials": logging.ERROR}):
        sources = Sources.from_settings(settings, transports, declared=declared)
        s = settings.sources
        try:
            rows = await asyncio.gather(check_hubspot(sources.hubspot, s.hubspot, today),
                                        check_shopify(sources.shopify, s.shopify, today),
                                        check_mailchimp(sources.mailchimp, s.mailchimp, today),
                                        check_ga4(sources.ga4, s.ga4, today),
                                        check_googleads(sources.googleads, s.googleads, today),
                                        *(check_declared(sources.declared.apis[name], today)
                                          for name in sorted(sources.declared.apis)))
        finally:
            await sources.aclose()
    return list(rows)


@contextlib.contextmanager
def _quieter(levels: dict[str, int]) -> Iterator[None]:
    loggers = {name: logging.getLogger(name) for name in levels}
    before = {name: logger.level for name, logger in loggers.items()}
    for name, logger in loggers.items():
        logger.setLevel(max(levels[name], logger.getEffectiveLevel()))
    try:
        yield
    finally:
        for name, logger in loggers.items():
            logger.setLevel(before[name])
