"""Connection resets for the simulators: start an answer, then die, so the server drops the socket;
and the count of statuses each source answered.

    app.add_middleware(ConnectionDropper, exception=InjectedReset)
    app.add_middleware(StatusCounter, state=state)

A server (uvicorn) that sees an app fail after ``http.response.start`` cannot send a 500 any more
and closes the connection: the client reads a truncated answer, as from a reset. In-process
(``httpx.ASGITransport``) the app's exception reaches the client's transport as a
``ConnectionResetError``, which is what a socket-level transport raises.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ConnectionDropper:
    def __init__(self, app: ASGIApp, exception: type[BaseException]) -> None:
        self.app = app
        self.exception = exception

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except self.exception as exc:
            if not started:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
                await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
            raise ConnectionResetError(str(exc)) from None


class StatusCounter:
    """Counts each answer's status under its source (``/shopify/...`` -> ``statuses["shopify"]``)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = scope["path"].split("/", 2)[1] if scope["type"] == "http" else ""
        counter = self.state.statuses.get(source)
        if counter is None:
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counter[str(message["status"])] += 1
            await send(message)

        await self.app(scope, receive, counting_send)
