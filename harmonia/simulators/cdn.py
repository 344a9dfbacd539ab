"""HubSpot's CDN in front of the simulator: Cloudflare's bot-management cookie on every answer.

    app.add_middleware(CdnCookie, prefix="/hubspot")

api.hubapi.com sits behind Cloudflare, which sets ``__cf_bm`` (valid 30 minutes) on its answers. A
client that keeps cookies sends it back on every later call, whoever that call is for. The real
one is ``Secure`` and scoped to ``.hubapi.com``; here it is host-only and plain, because the
simulator answers over plain HTTP on whatever host a test names, and a client's jar must be able
to keep it for a test to see whether it is sent back.
"""

from __future__ import annotations

import secrets
import time
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "__cf_bm"
LIFETIME = 30 * 60


class CdnCookie:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"set-cookie", _cookie())]}
            await send(message)

        await self.app(scope, receive, with_cookie)


def _cookie() -> bytes:
    expires = formatdate(time.time() + LIFETIME, usegmt=True)
    return f"{COOKIE}={secrets.token_urlsafe(32)}; path=/; expires={expires}; HttpOnly; SameSite=None".encode()
