"""Real server processes for tests: ``harmonia simulate`` / ``harmonia serve`` on free loopback ports.

    with Servers(tmp_path) as servers:
        sim = servers.simulators()
        gw = servers.gateway(sim, {"HARMONIA_REDIS_URL": redis_url})
        httpx.get(f"{gw}/healthz")

Each process runs in its own session and is stopped with its whole process group on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.conftest import TEST_SECRET_ENV

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("hubspot", "shopify", "mailchimp", "ga4", "googleads")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class Servers:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for proc in reversed(self.procs):
            stop(proc)

    def start(self, name: str, args: list[str], env: dict[str, str], port: int) -> str:
        base = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
        base["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "harmonia.cli", *args, "--port", str(port)],
                                    cwd=self.workdir, env=base | env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited early:\n{log.read_text(errors='replace')}")
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                return url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"{name} did not come up:\n{log.read_text(errors='replace')}")

    def simulators(self) -> str:
        return self.start("simulators", ["simulate", "--no-rate-limits"], {}, free_port())

    def gateway(self, simulators: str, env: dict[str, str], name: str = "gateway") -> str:
        sources = {f"HARMONIA_SOURCES__{s.upper()}__BASE_URL": f"{simulators}/{s}" for s in SOURCES}
        return self.start(name, ["serve"], TEST_SECRET_ENV | sources | env, free_port())
