"""Each source's credential from the settings, with Redis when one is configured.

    creds = credentials_for(settings, transports, SharedRedis.connect(settings.redis_url))
    creds["ga4"].kind              # "jwt_bearer" when HARMONIA_SOURCES__GA4__SERVICE_ACCOUNT_FILE is set

The token endpoint is reached through the source's own transport when one is given (tests hand in
the simulators' ASGI app, which serves the token endpoints too). With Redis, every instance shares
one token per credential and one renewal lock, whatever ``upstream.shared_state`` says: a rotated
Shopify refresh token must never live in one process only.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from harmonia.credentials import Credential, credential_for
from harmonia.credentials.build import RENEWABLE
from harmonia.settings import Settings, SourceSettings
from harmonia.sources.shared import SharedRedis


def credentials_for(settings: Settings, transports: Mapping[str, httpx.AsyncBaseTransport],
                    redis: SharedRedis | None) -> dict[str, Credential]:
    credentials: dict[str, Credential] = {}
    for name in RENEWABLE:
        source_settings: SourceSettings = getattr(settings.sources, name)
        credentials[name] = credential_for(name, source_settings, transport=transports.get(name),
                                           redis_client=redis.client if redis is not None else None)
    return credentials
