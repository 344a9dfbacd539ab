"""The ``client`` label of /metrics: bounded, and naming no user unless the operator chose one.

    labels = MetricsClients.from_settings(settings)
    labels.label(principal)        # "all", a configured client's name, "other" or "unknown"

``/metrics`` answers without a token, so its series must not list who uses the gateway. By default
every series is ``client="all"``. With ``auth.client_claim`` set (e.g. ``azp``, the OAuth client a
token was issued to) the label is that claim's value, ``unknown`` for a token without it; with
``observability.metrics_clients`` only the values listed there (of the claim, else of the token
subject) appear, every other caller as ``other``. Claim values are also capped like every label a
token can choose (``metrics.MAX_LABEL_VALUES`` distinct values, then ``other``).
"""

from __future__ import annotations

from collections.abc import Iterable

from harmonia.auth.principal import Principal
from harmonia.settings import Settings

ALL = "all"
OTHER = "other"
UNKNOWN = "unknown"


class MetricsClients:
    def __init__(self, *, by_claim: bool, allowed: Iterable[str] = ()) -> None:
        self.by_claim = by_claim
        self.allowed = frozenset(allowed)

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsClients:
        return cls(by_claim=settings.auth.client_claim is not None, allowed=settings.observability.metrics_clients)

    def label(self, principal: Principal) -> str:
        if self.allowed:
            value = principal.client if self.by_claim else principal.sub
            return value if value in self.allowed else OTHER
        if self.by_claim:
            return principal.client or UNKNOWN
        return ALL
