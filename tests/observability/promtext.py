"""Read Prometheus text back into numbers, for assertions: ``samples(text)[("name", (("k", "v"),))]``."""

from __future__ import annotations

import re

Sample = tuple[str, tuple[tuple[str, str], ...]]
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> dict[Sample, float]:
    found: dict[Sample, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        assert match, f"not Prometheus text: {line!r}"
        name, labels, value = match.groups()
        key = tuple(sorted(_LABEL.findall(labels or "")))
        found[(name, key)] = float(value)
    return found


def value(found: dict[Sample, float], name: str, **labels: str) -> float:
    """The sum of the series of ``name`` whose labels include ``labels`` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, key), v in found.items() if n == name and wanted <= set(key))
