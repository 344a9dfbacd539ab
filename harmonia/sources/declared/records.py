"""Declared records: one JSON item of a declared API, its fields selected and normalized.

    mapper = RecordMapper("klaviyo", "KlaviyoProfile", declaration.types["KlaviyoProfile"], values)
    record = mapper.record(item)            # DeclaredRecord(source="klaviyo", type="KlaviyoProfile", ...)
    record.fields["email"]                  # "ada@example.com"

Selection is JMESPath (compiled once per field); normalization is the built-in connectors' own
(email, E.164 phone, UTC datetime, exact money), so a declared field reads like a built-in one.
A value of the wrong shape (a list where a string is declared) is dropped to null, never passed on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import jmespath
from jmespath.parser import ParsedResult

from harmonia.sources.declared.model import FieldDecl, TypeDecl
from harmonia.sources.declared.templates import render
from harmonia.sources.normalize import normalize_datetime, normalize_email, normalize_money, normalize_phone
from harmonia.sources.records import Money


@dataclass(frozen=True, slots=True)
class DeclaredRecord:
    source: str
    type: str
    key: str
    fields: dict[str, Any]


def _string(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, str | int | float) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str | float) else None
    except InvalidOperation:
        return None
    return int(number) if number is not None and number == number.to_integral_value() else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) and value.strip() else None
    except ValueError:
        return None


def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _normalizer(field: FieldDecl, values: Mapping[str, str], version: str) -> Callable[[Any], Any]:
    kind = field.normalize or {"Int": "int", "Float": "float", "Money": "money", "DateTime": "datetime",
                               "Boolean": "boolean"}.get(field.type.rstrip("!"), "string")
    if kind == "email":
        return lambda v: normalize_email(v) if isinstance(v, str) else None
    if kind == "phone":
        return lambda v: normalize_phone(v) if isinstance(v, str) else None
    if kind == "datetime":
        return lambda v: normalize_datetime(v) if isinstance(v, str | int | float) and not isinstance(v, bool) else None
    if kind == "money":
        currency = render(field.currency or "USD", values, version)

        def money(v: Any) -> Money | None:
            return normalize_money(v, currency) if isinstance(v, str | int) and not isinstance(v, bool) else None
        return money
    return {"int": _int, "float": _float, "boolean": _boolean}.get(kind, _string)


class RecordMapper:
    """Items of one declared type to records (the field plan is compiled once per declaration)."""

    def __init__(self, source: str, type_name: str, decl: TypeDecl, values: Mapping[str, str], version: str) -> None:
        self.source = source
        self.type = type_name
        self.key_field = decl.key
        self.plan: list[tuple[str, ParsedResult, Callable[[Any], Any]]] = [
            (name, jmespath.compile(f.select), _normalizer(f, values, version)) for name, f in decl.fields.items()]
        self.key_normalizer = next(n for name, _, n in self.plan if name == decl.key)

    def record(self, item: Any) -> DeclaredRecord | None:
        if not isinstance(item, dict):
            return None
        fields = {}
        for name, expression, normalize in self.plan:
            try:
                raw = expression.search(item)
            except jmespath.exceptions.JMESPathError:
                raw = None  # a function given the wrong type on this item (e.g. sum over a string)
            fields[name] = normalize(raw) if raw is not None else None
        key = fields.get(self.key_field)
        if key is None:
            return None  # an item without its key cannot be found again: not a record of this type
        return DeclaredRecord(self.source, self.type, str(key), fields)

    def key_of(self, raw: Any) -> str | None:
        value = self.key_normalizer(raw) if raw is not None else None
        return None if value is None else str(value)
