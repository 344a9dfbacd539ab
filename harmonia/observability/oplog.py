"""The operation log: one JSON line per GraphQL operation (structlog), on the ``harmonia.operations`` logger.

    log = OperationLog()
    log.write(trace_id="4bf9...", operation="GetOrders", type="query", client="dashboard", duration_ms=12.5,
              cost={"requested": 52, "actual": 52}, upstream={"shopify": 1}, errors=[])

Lines carry what an operator needs to find an operation (trace id, name, client, timing, cost,
upstream calls by source, error codes) and nothing a caller sent: no token, no query text, no
variables, no field values. Without a handler of its own the logger gets one writing to stdout.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

LOGGER = "harmonia.operations"


def _dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


class OperationLog:
    def __init__(self, name: str = LOGGER) -> None:
        std = logging.getLogger(name)
        if not std.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            std.addHandler(handler)
            std.setLevel(logging.INFO)
        self._log = structlog.wrap_logger(std, processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ])

    def write(self, **fields: Any) -> None:
        self._log.info("graphql.operation", **fields)
