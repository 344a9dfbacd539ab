"""The HTTP layer under every connector: what reaches the wire.

A small upstream (real ASGI app, httpx's ASGI transport) records every request it gets.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harmonia.settings import SourceSettings
from harmonia.sources._http import URL_MEMO_SIZE, SourceHttp, build_client


def upstream() -> tuple[Starlette, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    async def anything(request: Request) -> JSONResponse:
        seen.append({"url": str(request.url), "cookie": request.headers.get("cookie")})
        response = JSONResponse({"ok": True})
        response.set_cookie("session", "alice-secret")  # what a load balancer or a login would set
        return response

    return Starlette(routes=[Route("/{rest:path}", anything, methods=["GET", "POST"])]), seen


def http_for(app: Starlette) -> SourceHttp:
    import httpx

    settings = SourceSettings(base_url="http://upstream.test/api/")
    return SourceHttp("test", build_client(settings, transport=httpx.ASGITransport(app=app)), max_retries=0)


async def test_a_cookie_one_answer_sets_never_rides_along_on_later_calls() -> None:
    app, seen = upstream()
    http = http_for(app)
    try:
        for _ in range(3):
            response = await http.request("GET", "/items", params={"limit": 5})
            assert "alice-secret" in response.headers["set-cookie"]
    finally:
        await http.aclose()
    assert [s["cookie"] for s in seen] == [None, None, None]


async def test_each_path_and_parameters_reach_the_upstream_as_asked() -> None:
    app, seen = upstream()
    http = http_for(app)
    try:
        await http.request("GET", "/orders.json", params={"ids": "1,2", "limit": 250})
        await http.request("GET", "/orders.json", params={"ids": "3", "limit": 250})
        await http.request("GET", "/orders.json", params={"ids": "1,2", "limit": 250})
        await http.request("GET", "/orders.json")
        await http.request("GET", "/search", params={"q": "a b&c=d", "tag": ["x", "y"]})  # a list: not memoized
        await http.request("POST", "/batch/read", params={"archived": "false"}, json={"inputs": []})
    finally:
        await http.aclose()
    assert [s["url"] for s in seen] == [
        "http://upstream.test/api/orders.json?ids=1%2C2&limit=250",
        "http://upstream.test/api/orders.json?ids=3&limit=250",
        "http://upstream.test/api/orders.json?ids=1%2C2&limit=250",
        "http://upstream.test/api/orders.json",
        "http://upstream.test/api/search?q=a+b%26c%3Dd&tag=x&tag=y",
        "http://upstream.test/api/batch/read?archived=false",
    ]


async def test_the_url_memo_stays_bounded_under_ever_new_ids() -> None:
    app, _ = upstream()
    http = http_for(app)
    try:
        for n in range(URL_MEMO_SIZE + 50):
            assert str(http.url(f"/customers/{n}.json", None)) == f"http://upstream.test/api/customers/{n}.json"
        assert len(http._urls) == URL_MEMO_SIZE
        # The newest are kept; the oldest were dropped and are built again, the same.
        assert str(http.url("/customers/0.json", None)) == "http://upstream.test/api/customers/0.json"
    finally:
        await http.aclose()
