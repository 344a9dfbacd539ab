"""The graphql-http audit suite (npm ``graphql-http``, ``auditServer``) against a running gateway.

The audit's package is installed on first use into tests/http/node (``npm ci`` from the committed
lock file; node_modules is not committed). Every audit passes, the recommendations (SHOULD) included:
a request without ``Accept`` or with ``*/*`` is answered as ``application/json``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from harmonia.auth.tokens import mint_token
from tests.conftest import SOURCES, TEST_JWT_SECRET
from tests.resilience.test_quota_under_load import Processes, base_env, free_port, processes, wait_ready

NODE_DIR = Path(__file__).parent / "node"
AUDITS = 61  # graphql-http's auditServer, in the version tests/http/node/package-lock.json pins
__all__ = ["processes"]  # the fixture, re-used from the load test


def install_audit() -> None:
    """``npm ci`` unless node_modules already holds the pinned version (a bump must not run the old one)."""
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["graphql-http"]
    installed = NODE_DIR / "node_modules" / "graphql-http" / "package.json"
    if installed.is_file() and json.loads(installed.read_text())["version"] == pinned:
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("node and npm are required for the GraphQL over HTTP audit (Debian's nodejs and npm)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300,
                   stdout=subprocess.DEVNULL)


async def test_the_gateway_passes_the_graphql_over_http_audit(processes: Processes) -> None:
    install_audit()
    sim_port, port = free_port(), free_port()
    processes.start(["simulate", "--port", str(sim_port)], base_env())
    env = base_env()
    env.update({f"HARMONIA_SOURCES__{name.upper()}__BASE_URL": f"http://127.0.0.1:{sim_port}/{name}"
                for name in SOURCES})
    processes.start(["serve", "--port", str(port)], env)
    await wait_ready(f"http://127.0.0.1:{port}/healthz")
    token = mint_token(TEST_JWT_SECRET, roles=["admin"], sub="audit", ttl=600)

    audit = await asyncio.create_subprocess_exec("node", "audit.mjs", f"http://127.0.0.1:{port}/graphql", token,
                                                 cwd=NODE_DIR, stdout=asyncio.subprocess.PIPE)
    stdout, _ = await asyncio.wait_for(audit.communicate(), timeout=120)
    assert audit.returncode == 0
    results = json.loads(stdout)

    counts = Counter(r["status"] for r in results)
    print(f"graphql-http audit: {dict(counts)}")
    assert counts["error"] == 0, [r for r in results if r["status"] == "error"]
    assert counts["warn"] == 0, [r["name"] for r in results if r["status"] == "warn"]
    assert counts["ok"] == AUDITS == len(results)
