"""GraphiQL in a real headless Chromium against real servers: it renders offline, with the examples and the token.

The simulators and the gateway run as ``harmonia simulate`` / ``harmonia serve`` subprocesses on free
loopback ports; Chromium is driven over the DevTools protocol (the ``websockets`` client uvicorn already
brings), which lets the test see every request the page makes, read the editors and click Run.

    .venv/bin/python -m pytest tests/http/test_graphiql_browser.py     # needs /usr/bin/chromium:
    bash scripts/ensure-chromium.sh                                     # installs it (as root)
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from harmonia.auth.tokens import mint_token
from harmonia.http.examples import EXAMPLES
from harmonia.http.graphiql import ASSETS, STATIC_DIR, STATIC_PREFIX
from tests.conftest import TEST_JWT_SECRET, TEST_SECRET_ENV

CHROMIUM = Path("/usr/bin/chromium")
SOURCES = ("hubspot", "shopify", "mailchimp", "ga4", "googleads")
FIRST_QUERY = next(iter(EXAMPLES.values()))
OPERATION_NAMES = [name for query in EXAMPLES.values() for name in re.findall(r"^query (\w+)", query, re.M)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started here and everything it spawned (Chromium's zygote, renderers, crashpad).

    It was started in its own session, so its process group id is its pid; the group is signalled,
    the leader reaped, then the group waited on until empty (SIGKILL if it lingers).
    """
    group = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    deadline, killed = time.monotonic() + 5, False
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            if killed:
                return  # after SIGKILL only unreaped zombies can remain: nothing runs any more
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            deadline, killed = time.monotonic() + 5, True
        time.sleep(0.05)


def _wait_for_http(url: str, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``url`` answers at all (a 404 counts: the server is up), or fail with the server's log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited early:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not come up:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``harmonia simulate`` and ``harmonia serve`` on free ports; the base URL of the gateway."""
    workdir = tmp_path_factory.mktemp("servers")  # no harmonia.yaml here, so defaults plus the env below
    sim_port, gw_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
    env |= TEST_SECRET_ENV
    env |= {f"HARMONIA_SOURCES__{name.upper()}__BASE_URL": f"http://127.0.0.1:{sim_port}/{name}"
            for name in SOURCES}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in (("simulators", ["simulate", "--port", str(sim_port), "--no-rate-limits"]),
                           ("gateway", ["serve", "--port", str(gw_port)])):
            log = workdir / f"{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen([sys.executable, "-m", "harmonia.cli", *args], cwd=workdir, env=env,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            procs.append(proc)
            _wait_for_http(f"http://127.0.0.1:{sim_port if name == 'simulators' else gw_port}/", name, proc, log)
        yield f"http://127.0.0.1:{gw_port}"
    finally:
        for proc in reversed(procs):
            _stop(proc)


class DevTools:
    """Just enough of the Chrome DevTools protocol: commands on one page session, events kept."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self.session: str | None = None

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session is not None:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def load(self, url: str) -> None:
        """A full page load of ``url`` (by way of about:blank, so a changed #fragment still reloads)."""
        for target in ("about:blank", url):
            self.send("Page.navigate", url=target)
            self.wait_for(f"location.href === {json.dumps(target)} && document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        """Poll a page expression until it is truthy (events keep being collected meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := self.evaluate(expression):
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """Headless Chromium (fresh profile, no background traffic), attached to one blank page."""
    if not CHROMIUM.exists():
        pytest.fail("headless Chromium is missing: run `bash scripts/ensure-chromium.sh` (make test does)")
    log = tmp_path / "chromium.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions", "--window-size=1400,900",
             f"--user-data-dir={tmp_path / 'profile'}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Chromium picks the port and writes it to DevToolsActivePort in the profile.
        active = tmp_path / "profile" / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().split()) == 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Chromium did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        port, path = active.read_text().split()
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as ws:
            tools = DevTools(ws)
            target = tools.send("Target.createTarget", url="about:blank")["targetId"]
            tools.session = tools.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Network", "Page", "Runtime"):
                tools.send(f"{domain}.enable")
            yield tools
    finally:
        _stop(proc)


def _editor(selector: str) -> str:
    """The text of a CodeMirror 5 editor (the element keeps its instance), not just the lines drawn."""
    return f"document.querySelector({json.dumps(selector + ' .CodeMirror')})?.CodeMirror.getValue()"


QUERY_EDITOR = _editor(".graphiql-query-editor")
# Variables and headers share the tool pane; the page opens it on headers, so the visible one.
HEADERS_EDITOR = _editor(".graphiql-editor-tool > .graphiql-editor:not(.hidden)")
ACTIVE_TOOL = "document.querySelector('.graphiql-editor-tools button.active')?.textContent"
RESPONSE_EDITOR = _editor(".graphiql-response")
TAB_BUTTONS = "[...document.querySelectorAll('.graphiql-tab .graphiql-tab-button')]"
TAB_TITLES = f"{TAB_BUTTONS}.map(b => b.textContent.trim())"


def test_graphiql_renders_offline_with_the_examples_and_runs_one_with_the_url_token(
    gateway_url: str, browser: DevTools, tmp_path: Path
) -> None:
    token = mint_token(TEST_JWT_SECRET, roles=["admin"], sub="t", ttl=600)
    browser.load(f"{gateway_url}/graphql#token={token}")

    assert browser.wait_for("!!document.querySelector('.graphiql-container')")
    assert browser.wait_for(QUERY_EDITOR) == FIRST_QUERY
    assert browser.evaluate(TAB_TITLES) == OPERATION_NAMES
    assert browser.evaluate(ACTIVE_TOOL) == "Headers"
    headers = json.loads(browser.wait_for(HEADERS_EDITOR))
    assert headers == {"Authorization": f"Bearer {token}"}
    # The schema came through introspection with the token: the docs explorer lists the root type.
    browser.evaluate("document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click()")
    docs_text = "document.querySelector('.graphiql-doc-explorer')?.textContent || ''"
    docs = browser.wait_for(f"({docs_text}).includes('CustomerConnection') && ({docs_text})")
    assert "query: Query" in docs and "CustomerConnection" in docs

    browser.evaluate("document.querySelector('.graphiql-execute-button').click()")
    response = json.loads(browser.wait_for(f"(({RESPONSE_EDITOR}) || '').includes('\"data\"') && {RESPONSE_EDITOR}"))
    assert "errors" not in response, response
    edges = response["data"]["customers"]["edges"]
    assert len(edges) == 10 and all("@" in edge["node"]["email"] for edge in edges)

    shot = base64.b64decode(browser.send("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "graphiql.png").write_bytes(shot)
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000  # a blank page is a few kB

    # Nothing outside the gateway: every request went to 127.0.0.1:<gateway port> (fonts are data: URIs).
    urls = browser.requested_urls()
    assert any(url.endswith("/graphiql.min.js") for url in urls)
    outside = [url for url in urls if not url.startswith((gateway_url + "/", "data:"))]
    assert outside == []
    failed = [e["params"] for e in browser.events if e.get("method") == "Network.loadingFailed"]
    assert failed == []
    exceptions = [e["params"] for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]
    assert exceptions == []


def test_reloaded_tabs_get_the_current_token_though_headers_are_never_stored(
    gateway_url: str, browser: DevTools
) -> None:
    first = mint_token(TEST_JWT_SECRET, roles=["admin"], sub="first", ttl=600)
    second = mint_token(TEST_JWT_SECRET, roles=["admin"], sub="second", ttl=600)
    browser.load(f"{gateway_url}/graphql#token={first}")
    assert browser.wait_for(QUERY_EDITOR) == FIRST_QUERY
    # GraphiQL writes its tab state after a 500 ms debounce; wait for it rather than guess.
    stored = json.loads(browser.wait_for("localStorage.getItem('graphiql:tabState')"))
    assert [tab["headers"] for tab in stored["tabs"]] == [None] * len(EXAMPLES)

    browser.load(f"{gateway_url}/graphql")  # no #token: the remembered one is used
    browser.wait_for(f"{TAB_TITLES}.length > 0")
    assert browser.evaluate(TAB_TITLES) == OPERATION_NAMES  # restored as they were, none added
    assert json.loads(browser.wait_for(HEADERS_EDITOR)) == {"Authorization": f"Bearer {first}"}
    browser.evaluate(f"{TAB_BUTTONS}.find(b => b.textContent.trim() === '{OPERATION_NAMES[1]}').click()")
    assert browser.wait_for(f"(({QUERY_EDITOR}) || '').includes('{OPERATION_NAMES[1]}') && {QUERY_EDITOR}") \
        == list(EXAMPLES.values())[1]
    assert json.loads(browser.wait_for(HEADERS_EDITOR)) == {"Authorization": f"Bearer {first}"}

    browser.load(f"{gateway_url}/graphql#token={second}")  # a new token reaches the restored tabs
    browser.wait_for(f"{TAB_TITLES}.length > 0")
    assert browser.evaluate(TAB_TITLES) == OPERATION_NAMES
    assert json.loads(browser.wait_for(HEADERS_EDITOR)) == {"Authorization": f"Bearer {second}"}


def test_browser_get_answers_the_page_without_a_token_and_it_loads_only_packaged_assets(gateway_url: str) -> None:
    response = httpx.get(f"{gateway_url}/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Harmonia GraphiQL" in response.text
    referenced = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sorted(referenced) == sorted([*(f"{STATIC_PREFIX}/{name}" for name in ASSETS), "data:,"])


@pytest.mark.parametrize(("name", "media_types"), [
    ("graphiql.min.css", ("text/css",)),
    ("graphiql.min.js", ("text/javascript", "application/javascript")),
    ("react.production.min.js", ("text/javascript", "application/javascript")),
    ("react-dom.production.min.js", ("text/javascript", "application/javascript")),
])
def test_static_assets_are_served_with_their_content_type(
    gateway_url: str, name: str, media_types: tuple[str, ...]
) -> None:
    response = httpx.get(f"{gateway_url}{STATIC_PREFIX}/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in media_types
    assert response.content == (STATIC_DIR / name).read_bytes()
