"""The operation being answered, as far as the layers below the pipeline need to know it.

    token = begin(record)                 # the HTTP adapter, around one operation
    ...
    end(token)
    note_upstream("shopify")              # the HTTP layer: one more call on this operation's account
    current()                             # the record, or None outside an operation

A context variable: tasks started during the operation (loader batches, cache flights) copy it,
so their upstream calls are counted on the operation that caused them.
"""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class OperationRecord:
    client: str | None = None  # logs and field usage: the token subject (hashed when an email)
    metrics_client: str | None = None  # the bounded client label of /metrics (metrics_clients.py)
    usage_client: str | None = None    # field usage: graphql-client-name, the client claim or the subject, bounded
    client_version: str = ""           # field usage: graphql-client-version, bounded
    grant: str = ""                    # field usage: the roles and scopes the operation ran under
    roles: tuple[str, ...] = ()
    name: str | None = None
    type: str | None = None
    upstream: Counter[str] = field(default_factory=Counter)
    services: Any = None  # the app's Telemetry (field usage for the fieldUsage query)
    span: Any = None      # the operation's span while tracing is on


_current: ContextVar[OperationRecord | None] = ContextVar("harmonia_operation", default=None)


def current() -> OperationRecord | None:
    return _current.get()


def begin(record: OperationRecord) -> Token[OperationRecord | None]:
    return _current.set(record)


def end(token: Token[OperationRecord | None]) -> None:
    _current.reset(token)


def note_upstream(source: str) -> None:
    record = _current.get()
    if record is not None:
        record.upstream[source] += 1
