"""Who is asking: the verified token's subject, roles and scopes, and the application it came through."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    client: str | None = None  # the value of ``auth.client_claim``, when configured and present
