"""The dependency lock: requirements/dev.txt and requirements/runtime.txt, with hashes.

    python scripts/lock.py check              # offline: the lock still matches pyproject.toml (make test)
    python scripts/lock.py sync dev           # install exactly the locked set into this interpreter's env
    python scripts/lock.py compile            # re-resolve, keeping the locked versions where still allowed
    python scripts/lock.py compile --upgrade  # the newest versions pyproject.toml allows (make upgrade)

Why pip-format files with hashes and not uv.lock: the files name no package index, so pip installs
them through whatever index or mirror the machine is configured with, and nothing but pip (bundled
with Python) is needed to install. uv only resolves (``make lock`` / ``make upgrade``), from the
dev set. The header of each file carries a digest of the inputs (dependencies, dev extra, build
requirements, Python range), so ``check`` tells a stale lock without the network.

Only the standard library is imported before ``sync`` has run: this script installs the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCKS = {"dev": ROOT / "requirements" / "dev.txt", "runtime": ROOT / "requirements" / "runtime.txt"}
LOCK_PYTHON = "3.11"  # the oldest Python pyproject.toml allows: markers cover newer ones (--universal)
DIGEST_LINE = re.compile(r"^# inputs: ([0-9a-f]{64})$", re.MULTILINE)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def say(message: str) -> None:
    print(f"harmonia: {message}", flush=True)


def project() -> dict[str, object]:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def inputs(kind: str) -> dict[str, object]:
    """What the lock of ``kind`` is resolved from: changing any of it makes the lock stale."""
    data = project()
    meta = data["project"]
    assert isinstance(meta, dict)
    found: dict[str, object] = {
        "requires-python": meta.get("requires-python"),
        "dependencies": sorted(meta.get("dependencies", [])),
        "build": sorted(data.get("build-system", {}).get("requires", [])),  # type: ignore[union-attr]
    }
    if kind == "dev":
        found["dev"] = sorted(meta.get("optional-dependencies", {}).get("dev", []))
    return found


def digest(kind: str) -> str:
    return hashlib.sha256(json.dumps(inputs(kind), sort_keys=True).encode()).hexdigest()


def pins(text: str) -> dict[str, str]:
    return {normalize(name): version for name, version in PIN.findall(text)}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- check ------------------------------------------------------------------------------------------


def check() -> int:
    """Offline: both files exist, were made from today's inputs, agree, and satisfy every direct pin."""
    problems: list[str] = []
    locked: dict[str, dict[str, str]] = {}
    for kind, path in LOCKS.items():
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} is missing")
            continue
        text = path.read_text()
        found = DIGEST_LINE.search(text)
        if found is None or found.group(1) != digest(kind):
            problems.append(f"{path.relative_to(ROOT)} was made from other inputs than today's pyproject.toml")
        locked[kind] = pins(text)
    if "dev" in locked and "runtime" in locked:
        for name, version in locked["runtime"].items():
            if locked["dev"].get(name) != version:
                problems.append(f"runtime pins {name}=={version}, dev pins {locked['dev'].get(name)}")
    problems += unsatisfied(locked)
    if problems:
        for problem in problems:
            print(f"lock: {problem}", file=sys.stderr)
        print("lock: run `make lock` (keeps locked versions where allowed) and commit requirements/", file=sys.stderr)
        return 1
    say(f"lock matches pyproject.toml ({len(locked.get('dev', {}))} packages, dev set)")
    return 0


def unsatisfied(locked: dict[str, dict[str, str]]) -> list[str]:
    """Direct requirements whose locked version falls outside pyproject.toml's range (needs packaging)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # before the dev set is installed: the digest alone decides
        return []
    problems = []
    for kind, pinned in locked.items():
        needed = inputs(kind)
        for spec in [*needed["dependencies"], *needed.get("dev", []), *needed["build"]]:  # type: ignore[misc]
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate():
                continue
            version = pinned.get(normalize(req.name))
            if version is None:
                problems.append(f"{kind} lock has no {req.name}")
            elif not req.specifier.contains(version, prereleases=True):
                problems.append(f"{kind} lock pins {req.name}=={version}, outside {req.specifier}")
    return problems


# --- compile ----------------------------------------------------------------------------------------


def uv() -> str:
    found = Path(sys.executable).parent / "uv"
    if not found.exists():
        raise SystemExit("lock: uv is not installed in this env: `make install-dev` first")
    return str(found)


def compile_locks(upgrade: bool) -> int:
    """Resolve dev first, then runtime constrained to dev's pins, so both agree on every package."""
    before = {kind: pins(path.read_text()) if path.exists() else {} for kind, path in LOCKS.items()}
    LOCKS["dev"].parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        build_in = Path(tmp) / "build.in"
        build_in.write_text("\n".join(inputs("dev")["build"]) + "\n")  # type: ignore[arg-type]
        for kind in ("dev", "runtime"):
            out = Path(tmp) / f"{kind}.txt"
            if LOCKS[kind].exists() and not upgrade:
                out.write_text(LOCKS[kind].read_text())  # uv keeps an output file's pins as preferences
            command = [uv(), "pip", "compile", "--quiet", str(PYPROJECT), str(build_in), "--universal",
                       "--python-version", LOCK_PYTHON, "--generate-hashes", "--no-emit-index-url",
                       "--no-emit-find-links", "--no-header", "--no-annotate", "--output-file", str(out)]
            if kind == "dev":
                command += ["--extra", "dev"]
            else:
                constraints = Path(tmp) / "dev-pins.txt"
                constraints.write_text("".join(f"{n}=={v}\n" for n, v in pins((Path(tmp) / "dev.txt").read_text())
                                               .items()))
                command += ["--constraint", str(constraints)]
            if upgrade:
                command.append("--upgrade")
            started = time.monotonic()
            subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "UV_NO_CONFIG": "1"})
            header = (f"# The {kind} set, locked with hashes. Made by `make lock` / `make upgrade` "
                      "(scripts/lock.py); do not edit.\n"
                      f"# Install: python scripts/lock.py sync {kind}\n# inputs: {digest(kind)}\n")
            LOCKS[kind].write_text(header + out.read_text())
            say(f"{LOCKS[kind].relative_to(ROOT)}: {len(pins(out.read_text()))} packages "
                f"({time.monotonic() - started:.1f} s)")
    for kind in LOCKS:
        report_moves(kind, before[kind], pins(LOCKS[kind].read_text()))
    return 0


def report_moves(kind: str, before: dict[str, str], after: dict[str, str]) -> None:
    if not before:
        say(f"{kind}: {len(after)} packages locked")
        return
    moved = [f"{n} {before[n]} -> {after[n]}" for n in sorted(after) if n in before and before[n] != after[n]]
    added = [f"{n} {after[n]}" for n in sorted(after) if n not in before]
    removed = [f"{n} {before[n]}" for n in sorted(before) if n not in after]
    if not (moved or added or removed):
        say(f"{kind}: no package moved")
    for label, items in (("moved", moved), ("added", added), ("removed", removed)):
        if items:
            say(f"{kind}: {label}: " + ", ".join(items))


# --- sync -------------------------------------------------------------------------------------------


def sync(kind: str) -> int:
    """pip installs the locked set (hashes checked, no resolver), the project itself, and removes the rest."""
    lock = LOCKS[kind]
    wanted = pins(lock.read_text())
    log = Path(sys.prefix) / "install.log"
    started = time.monotonic()
    say(f"installing {len(wanted)} locked packages ({kind}) into {Path(sys.prefix).name} ...")
    steps = [
        ["install", "--require-hashes", "--no-deps", "--only-binary", ":all:", "-r", str(lock)],
        # The project itself, editable, built with the locked setuptools (no build env from the index).
        ["install", "--no-deps", "--no-build-isolation", "--editable", str(ROOT)],
    ]
    with log.open("w") as out:
        for step in steps:
            done = subprocess.run([sys.executable, "-m", "pip", "--no-input", "--disable-pip-version-check",
                                   *step], stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                out.flush()
                failed(log)
                return done.returncode
    extra = installed() - set(wanted) - {"harmonia", "pip"}
    if extra:
        say(f"removing {len(extra)} packages the {kind} lock does not name: {', '.join(sorted(extra))}")
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *sorted(extra)], check=True)
    say(f"installed {len(wanted)} packages and harmonia in {time.monotonic() - started:.0f} s "
        f"(pip's output: {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log})")
    return 0


def installed() -> set[str]:
    from importlib import metadata

    return {normalize(d.metadata["Name"]) for d in metadata.distributions() if d.metadata["Name"]}


def failed(log: Path) -> None:
    """pip's own words, without the noise of index locations this machine does not have."""
    lines = [line for line in log.read_text().splitlines() if "is ignored: it is neither" not in line]
    print("\n".join(lines[-40:]), file=sys.stderr)
    say(f"install failed (whole output: {log})")


def main(argv: list[str]) -> int:
    match argv:
        case ["check"]:
            return check()
        case ["sync", ("dev" | "runtime") as kind]:
            return sync(kind)
        case ["compile"]:
            return compile_locks(upgrade=False)
        case ["compile", "--upgrade"]:
            return compile_locks(upgrade=True)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
