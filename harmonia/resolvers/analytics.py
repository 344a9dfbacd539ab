"""Ad-hoc GA4 reports for analysts: any allowed dimensions and metrics over a date range.

    report = await run_analytics(ctx, DateRange("2026-01-01", "2026-01-31"), ["date"], ["sessions"], 100, 0)
"""

from __future__ import annotations

import re

from harmonia.errors import BadUserInput
from harmonia.resolvers.cached import GA4_REPORT, cached_call
from harmonia.resolvers.context import RequestContext
from harmonia.resolvers.records import DateRange
from harmonia.sources.records import Report, ReportRequest

# GA4's own limits per request.
MAX_DIMENSIONS = 9
MAX_METRICS = 10
MAX_ROWS = 10_000
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_:]{0,63}$")


async def run_analytics(
    ctx: RequestContext,
    date_range: DateRange,
    dimensions: list[str],
    metrics: list[str],
    limit: int,
    offset: int,
) -> Report:
    if not metrics:
        raise BadUserInput("Ask for at least one metric", argument="metrics")
    if len(dimensions) > MAX_DIMENSIONS or len(metrics) > MAX_METRICS:
        raise BadUserInput(f"At most {MAX_DIMENSIONS} dimensions and {MAX_METRICS} metrics per report")
    for name in (*dimensions, *metrics):
        if not _NAME.match(name):
            raise BadUserInput(f"Not a GA4 field name: {name[:64]!r}")
    if not 1 <= limit <= MAX_ROWS or offset < 0:
        raise BadUserInput(f"`limit` must be within 1..{MAX_ROWS} and `offset` not negative")
    request = ReportRequest(start_date=date_range.start_date, end_date=date_range.end_date,
                            dimensions=tuple(dimensions), metrics=tuple(metrics), limit=limit, offset=offset)
    assert ctx.cache is not None
    return await cached_call(ctx.cache, GA4_REPORT, request, ctx.sources.ga4.run_report)
