"""Read a folder of source declarations, refusing any mistake with the file, the line and the key.

    found = load_folder("sources.d", BUILT_IN_TYPES)     # DeclarationError("klaviyo.yaml:14: types.
                                                         #   KlaviyoProfile.fields.emial.selct: unknown key")
    found = parse_declarations({"klaviyo.yaml": text}, BUILT_IN_TYPES)   # what the admin API validates

Every file is checked whole before any is used: YAML, the model (unknown keys, types, JMESPath
syntax), then what only the set can tell (templates that name unknown settings, extensions that name
unknown types or fields, two files declaring one type, a type named like a built-in one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harmonia.sources.declared.model import (
    TEMPLATE_VARIABLES,
    Declaration,
    template_names,
    walk_templates,
)

CAMPAIGN_CHANNELS = ("EMAIL", "SEARCH", "SOCIAL")  # the schema's CampaignChannel
MAX_FILE_BYTES = 256 * 1024


class DeclarationError(ValueError):
    """A refused declaration: ``file:line: key: reason``."""

    def __init__(self, file: str, line: int | None, key: str, reason: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")
        self.file, self.line, self.key, self.reason = file, line, key, reason


@dataclass(frozen=True)
class DeclaredFile:
    file: str
    text: str
    declaration: Declaration


@dataclass(frozen=True)
class DeclaredSet:
    """The declarations in force, and a digest naming this exact set (what instances agree on)."""

    files: tuple[DeclaredFile, ...]
    digest: str

    @property
    def declarations(self) -> list[Declaration]:
        return [f.declaration for f in self.files]

    def texts(self) -> dict[str, str]:
        return {f.file: f.text for f in self.files}


EMPTY = DeclaredSet((), hashlib.sha256(b"").hexdigest()[:16])


def load_folder(folder: str | Path | None, reserved_types: Iterable[str] = ()) -> DeclaredSet:
    """Every ``*.yaml``/``*.yml`` of ``folder`` (None: no declared sources)."""
    if folder is None:
        return EMPTY
    path = Path(folder)
    if not path.is_dir():
        raise DeclarationError(str(path), None, "", "HARMONIA_SOURCES_DIR names no folder")
    texts = {}
    for file in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
        if file.stat().st_size > MAX_FILE_BYTES:
            raise DeclarationError(file.name, None, "", f"larger than {MAX_FILE_BYTES} bytes")
        texts[file.name] = file.read_text(encoding="utf-8")
    return parse_declarations(texts, reserved_types)


def parse_declarations(texts: Mapping[str, str], reserved_types: Iterable[str] = ()) -> DeclaredSet:
    files = [_parse_one(name, text) for name, text in sorted(texts.items())]
    _check_set(files, frozenset(reserved_types))
    digest = hashlib.sha256("\0".join(f"{f.file}\0{f.text}" for f in files).encode()).hexdigest()[:16]
    return DeclaredSet(tuple(files), digest)


def _parse_one(file: str, text: str) -> DeclaredFile:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or "not valid YAML"
        raise DeclarationError(file, mark.line + 1 if mark is not None else None, "", f"not valid YAML ({reason})") \
            from None
    if not isinstance(data, dict) or root is None:
        raise DeclarationError(file, 1, "", "a declaration is a mapping (name, base_url, types, ...)")
    lines = _lines(root)
    try:
        declaration = Declaration.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(part for part in first["loc"] if part != "[key]")
        raise DeclarationError(file, _line_of(lines, loc), ".".join(map(str, loc)), _reason(first)) from None
    for at, value in walk_templates(data):
        for name in template_names(value):
            problem = _template_problem(name, declaration)
            if problem:
                raise DeclarationError(file, _line_of(lines, at), ".".join(map(str, at)), problem)
    _check_one(file, declaration, lines)
    return DeclaredFile(file, text, declaration)


def _reason(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required key missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _template_problem(name: str, declaration: Declaration) -> str | None:
    if name.startswith("settings."):
        setting = name.partition(".")[2]
        if setting not in declaration.settings:
            return f"{{{name}}} names no setting (declared: {', '.join(sorted(declaration.settings)) or 'none'})"
        return None
    if name not in TEMPLATE_VARIABLES:
        return f"{{{name}}} is not a template variable (expected settings.<name> or one of: " \
               f"{', '.join(sorted(TEMPLATE_VARIABLES))})"
    return None


def _check_one(file: str, d: Declaration, lines: dict[tuple[Any, ...], int]) -> None:
    def fail(at: tuple[Any, ...], reason: str) -> DeclarationError:
        return DeclarationError(file, _line_of(lines, at), ".".join(map(str, at)), reason)

    for i, ext in enumerate(d.extends.customer):
        if ext.type not in d.types:
            raise fail(("extends", "customer", i, "type"), f"no type {ext.type!r} in this declaration")
        if d.types[ext.type].batch is None:
            raise fail(("extends", "customer", i, "type"), f"{ext.type} has no batch endpoint to find it by email")
    for i, camp in enumerate(d.extends.campaigns):
        at = ("extends", "campaigns", i)
        if camp.type not in d.types:
            raise fail((*at, "type"), f"no type {camp.type!r} in this declaration")
        decl = d.types[camp.type]
        if decl.list is None:
            raise fail((*at, "type"), f"{camp.type} has no list endpoint to list campaigns with")
        if camp.channel not in CAMPAIGN_CHANNELS:
            raise fail((*at, "channel"), f"unknown channel {camp.channel!r} (one of: {', '.join(CAMPAIGN_CHANNELS)})")
        for key in ("id", "name", "status"):
            value = getattr(camp, key)
            if value is not None and value not in decl.fields:
                raise fail((*at, key), f"{camp.type} has no field {value!r}")
        if camp.stats is not None:
            stats = d.types.get(camp.stats.type)
            if stats is None:
                raise fail((*at, "stats", "type"), f"no type {camp.stats.type!r} in this declaration")
            if stats.batch is None:
                raise fail((*at, "stats", "type"), f"{camp.stats.type} has no batch endpoint to find it by id")
            for stat, field in camp.stats.fields.items():
                if field not in stats.fields:
                    raise fail((*at, "stats", "fields", stat), f"{camp.stats.type} has no field {field!r}")


def _check_set(files: list[DeclaredFile], reserved: frozenset[str]) -> None:
    names: dict[str, str] = {}
    types: dict[str, str] = {}
    for f in files:
        root = yaml.compose(f.text, Loader=yaml.SafeLoader)
        lines = _lines(root) if root is not None else {}
        d = f.declaration
        if d.name in names:
            raise DeclarationError(f.file, _line_of(lines, ("name",)), "name",
                                   f"source {d.name!r} is also declared by {names[d.name]}")
        names[d.name] = f.file
        for type_name in d.types:
            at = ("types", type_name)
            if type_name in reserved:
                raise DeclarationError(f.file, _line_of(lines, at), ".".join(at),
                                       f"{type_name} is a built-in type of the schema")
            if type_name in types:
                raise DeclarationError(f.file, _line_of(lines, at), ".".join(at),
                                       f"{type_name} is also declared by {types[type_name]}")
            types[type_name] = f.file


def _lines(root: Node) -> dict[tuple[Any, ...], int]:
    """Where each key and item of the document starts (1-based), by its path."""
    lines: dict[tuple[Any, ...], int] = {(): root.start_mark.line + 1}

    def walk(node: Node, at: tuple[Any, ...]) -> None:
        if isinstance(node, MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else str(key)
                lines[(*at, name)] = key.start_mark.line + 1
                walk(value, (*at, name))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*at, i)] = item.start_mark.line + 1
                walk(item, (*at, i))

    walk(root, ())
    return lines


def _line_of(lines: dict[tuple[Any, ...], int], at: tuple[Any, ...]) -> int:
    """The line of ``at``, or of its nearest ancestor the file has (a missing key: where it belongs)."""
    path = tuple(str(p) if not isinstance(p, int) else p for p in at)
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)
