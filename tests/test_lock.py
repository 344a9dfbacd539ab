"""The lock (requirements/*.txt): make test refuses one that no longer matches pyproject.toml."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the lock check reads: pyproject.toml, requirements/ and the script."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "lock.py", tmp_path / "scripts" / "lock.py")
    return tmp_path


def check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(project / "scripts" / "lock.py"), "check"],
                          capture_output=True, text=True, check=False)


def test_the_committed_lock_matches_pyproject(project: Path) -> None:
    done = check(project)

    assert done.returncode == 0, done.stderr
    assert "lock matches pyproject.toml" in done.stdout


def test_a_dependency_added_without_relocking_is_refused(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "pyyaml>=6",', '    "pyyaml>=6",\n    "tenacity>=8",'))

    done = check(project)

    assert done.returncode == 1
    assert "requirements/dev.txt was made from other inputs" in done.stderr
    assert "dev lock has no tenacity" in done.stderr
    assert "make lock" in done.stderr


def test_a_pin_edited_outside_the_allowed_range_is_refused(project: Path) -> None:
    for kind in ("dev", "runtime"):
        lock = project / "requirements" / f"{kind}.txt"
        lock.write_text(re.sub(r"^graphql-core==\S+", "graphql-core==3.4.0", lock.read_text(), flags=re.MULTILINE))

    done = check(project)

    assert done.returncode == 1
    assert "pins graphql-core==3.4.0, outside <3.4,>=3.3.2" in done.stderr


def test_runtime_and_dev_locks_pin_the_same_versions(project: Path) -> None:
    runtime = project / "requirements" / "runtime.txt"
    runtime.write_text(re.sub(r"^redis==\S+", "redis==8.0.0", runtime.read_text(), flags=re.MULTILINE))

    done = check(project)

    assert done.returncode == 1
    assert "runtime pins redis==8.0.0, dev pins" in done.stderr


def test_every_locked_package_carries_a_hash() -> None:
    for kind in ("dev", "runtime"):
        text = (ROOT / "requirements" / f"{kind}.txt").read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 3)[3])
        assert entries and all("--hash=sha256:" in e for e in entries if "==" in e), kind


def test_an_old_python_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    old = tmp_path / "python3.10"
    old.write_text("#!/bin/sh\n"
                   "if [ \"$1\" = --version ]; then echo 'Python 3.10.12'; exit 0; fi\n"
                   "exec python3 -c 'import sys; sys.exit(1)'\n")  # as 3.10 answers the version check
    old.chmod(0o755)

    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "install", f"PYTHON={old}",
                           f"VENV={tmp_path / 'venv'}"], capture_output=True, text=True, check=False)

    assert done.returncode != 0
    assert f"harmonia needs Python 3.11 or newer; '{old}' is Python 3.10.12." in done.stderr
    assert "PYTHON=python3.11" in done.stderr
    assert not (tmp_path / "venv").exists()
