"""Who field usage is counted for: the calling application, in bounded names a client cannot inflate.

    names = UsageNames(max_clients=200, known=["web-dashboard"])
    names.client(headers, principal_client="bi-tool", sub_label="dev-marketer")   # "web-dashboard", ...
    names.operation("Dashboard")                                                   # "Dashboard" or "(other)"

The client is, in order: the ``graphql-client-name`` header (Apollo's convention, with
``graphql-client-version``), the token's ``auth.client_claim``, the token subject. Every name a
caller can choose is checked (printable ASCII, at most 64 characters; a header that is not is
``(invalid)``, a subject or claim that is not is a short digest of it) and capped: at most
``max_clients`` distinct client names, ``max_operations`` operation names and ``max_versions``
versions per hour in this process, then ``(other)``. Names listed in ``known`` are
always admitted, so an operator who lists the real clients never sees them folded into ``(other)``
by a caller inventing names. Redis has its own cap per hourly hash (``usage.MAX_FIELDS_PER_HOUR``).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Mapping

NAME = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,63}$")  # printable ASCII, 64 at most: no tab, newline, escape
OTHER = "(other)"
INVALID = "(invalid)"
ANONYMOUS = "(anonymous)"
CLIENT_HEADER = "graphql-client-name"
VERSION_HEADER = "graphql-client-version"


class _HourlyCap:
    """Distinct values admitted this hour, up to ``limit``; the set starts afresh every hour."""

    def __init__(self, limit: int, always: Iterable[str] = ()) -> None:
        self.limit = limit
        self.always = frozenset(always)
        self.hour = -1
        self.seen: set[str] = set()

    def admit(self, value: str, now: float | None = None) -> str:
        if value in self.always:
            return value
        hour = int((time.time() if now is None else now) // 3600)
        if hour != self.hour:
            self.hour, self.seen = hour, set()
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(value)
        return value


def clean(value: str | None, *, digest_others: bool = False) -> str | None:
    """The value when it is a plain name, None when absent or blank; otherwise ``(invalid)``, or with
    ``digest_others`` (a verified token's subject or claim: ``auth0|...`` of 80 characters is a real
    client) a short digest of it, as stable and as bounded."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if NAME.match(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16] if digest_others \
        else INVALID


class UsageNames:
    def __init__(self, *, max_clients: int = 200, max_operations: int = 500, max_versions: int = 200,
                 known: Iterable[str] = ()) -> None:
        self.clients = _HourlyCap(max_clients, known)
        self.operations = _HourlyCap(max_operations)
        self.versions = _HourlyCap(max_versions)

    def client(self, headers: Mapping[str, str], *, principal_client: str | None, sub_label: str) -> str:
        named = clean(headers.get(CLIENT_HEADER)) or clean(principal_client, digest_others=True) \
            or clean(sub_label, digest_others=True) or INVALID
        return self.clients.admit(named)

    def version(self, headers: Mapping[str, str]) -> str:
        named = clean(headers.get(VERSION_HEADER))
        return "" if named is None else self.versions.admit(named)

    def operation(self, name: str | None) -> str:
        # GraphQL names are already [_A-Za-z][_0-9A-Za-z]*; only their number and length need a bound.
        if not name:
            return ANONYMOUS
        return self.operations.admit(name if len(name) <= 100 else name[:100])


def grant_label(roles: Iterable[str], scopes: Iterable[str]) -> str:
    """The role set and scopes an operation ran under, as usage stores them: ``analyst+marketer|privacy``."""
    label = "+".join(sorted(roles))
    scope_part = " ".join(sorted(scopes))
    if scope_part:
        label = f"{label}|{scope_part}"
    return label[:200].replace("\t", " ")
