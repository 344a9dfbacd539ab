"""The whole-operation deadline: one budget of seconds that every upstream call of an operation shares.

    with operation_deadline(15.0):            # the pipeline, once per GraphQL operation
        ...                                   # resolvers -> connectors -> SourceHttp.request
    remaining()                               # seconds left (None: no deadline is set)

A ``ContextVar`` carries it, so concurrent resolvers of one operation (asyncio tasks copy the
context) see the same deadline, and no layer between the pipeline and ``SourceHttp`` passes it on.
Retries, backoff, pacing waits and each attempt's timeout are all cut to what is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("harmonia_operation_deadline", default=None)


@contextmanager
def operation_deadline(seconds: float | None) -> Iterator[None]:
    """Everything inside must finish within ``seconds`` (``None``: no deadline)."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left in the current operation (never negative), or ``None`` outside any deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def bounded(seconds: float) -> float:
    """``seconds`` cut to what the current operation has left."""
    left = remaining()
    return seconds if left is None else min(seconds, left)
