"""Overlays in a real Redis: versions, the append-only audit with the right 'before', and the export."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from harmonia.auth.overlays import RedisOverlays
from harmonia.auth.policy_file import DEMO_POLICY, parse_policy
from harmonia.auth.rules import FieldRule, Rule
from harmonia.auth.store import PolicyStore
from harmonia.schema import build_schema
from harmonia.schema.catalog import catalog_of

ROOT = Path(__file__).resolve().parents[2]


async def test_concurrent_admins_get_one_version_and_one_audit_entry_each(redis_url: str) -> None:
    one, two = PolicyStore(DEMO_POLICY, RedisOverlays(redis_url)), PolicyStore(DEMO_POLICY, RedisOverlays(redis_url))
    try:
        entries = await asyncio.gather(*(
            store.write("Customer", "phone", FieldRule(read=Rule.roles(role)), actor=role)
            for store, role in ((one, "marketer"), (two, "support"), (one, "analyst"))))
        assert sorted(e.version for e in entries) == [1, 2, 3]
        audit = await one.audit(10)
        assert [e.version for e in audit] == [3, 2, 1]
        # Each entry's 'before' is what the previous one wrote (the first: the file's own field rule).
        assert audit[-1].before == DEMO_POLICY.types["Customer"].field("phone")
        assert audit[1].before == audit[2].after and audit[0].before == audit[1].after
        await two.refresh()
        assert one.current.version == two.current.version == 3
        assert one.current.overlays == two.current.overlays
    finally:
        await one.stop()
        await two.stop()


def test_policy_export_writes_the_file_plus_the_runtime_changes(redis_url: str, tmp_path: Path) -> None:
    async def change() -> None:
        store = PolicyStore(DEMO_POLICY, RedisOverlays(redis_url))
        await store.write("Campaign", "stats", FieldRule(read=Rule.roles("marketer", "support")), actor="ada")
        await store.stop()

    asyncio.run(change())
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HARMONIA_")}
    env |= {"HARMONIA_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "effective.yaml"
    done = subprocess.run([sys.executable, "-m", "harmonia.cli", "policy", "export", "-o", str(out)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    exported = parse_policy(out.read_text(), str(out), catalog_of(build_schema()._schema))
    assert exported.types["Campaign"].field("stats") == FieldRule(read=Rule.roles("marketer", "support"))
    assert exported.types["Customer"].field("email") == DEMO_POLICY.types["Customer"].field("email")
    assert "overlay version 1" in out.read_text().splitlines()[0]
