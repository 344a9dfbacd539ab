"""Frozen-dataclass records to JSON-ready values and back, with a type tag, for the shared tier.

    codec = RecordCodec([Contact, Money, Page])
    data = codec.encode(contact)           # {"$": "Contact", "id": "151", ...}
    codec.decode(data) == contact          # True

Tuples come back as tuples (fields annotated ``tuple[...]``), lists as lists. An unknown tag or
field (another gateway version wrote it) raises ``CodecError``: the caller treats it as a miss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any

TAG = "$"


class CodecError(ValueError):
    pass


class RecordCodec:
    def __init__(self, types: Iterable[type]) -> None:
        self._types: dict[str, type] = {}
        self._tuple_fields: dict[str, frozenset[str]] = {}
        self._fields: dict[type, tuple[str, ...]] = {}
        for cls in types:
            if not is_dataclass(cls):
                raise TypeError(f"{cls!r} is not a dataclass")
            self._types[cls.__name__] = cls
            own = fields(cls)
            self._fields[cls] = tuple(f.name for f in own)
            # Annotations are strings here (``from __future__ import annotations``).
            self._tuple_fields[cls.__name__] = frozenset(f.name for f in own if str(f.type).startswith("tuple"))

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, str | int | float | bool):
            return value
        if isinstance(value, list | tuple):
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.encode(v) for k, v in value.items()}
        names = self._fields.get(type(value))
        if names is None:
            raise CodecError(f"no codec for {type(value).__name__}")
        data: dict[str, Any] = {TAG: type(value).__name__}
        for name in names:
            data[name] = self.encode(getattr(value, name))
        return data

    def decode(self, data: Any) -> Any:
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict):
            return data
        name = data.get(TAG)
        if name is None:
            return {k: self.decode(v) for k, v in data.items()}
        cls = self._types.get(name)
        if cls is None:
            raise CodecError(f"unknown record type {name!r}")
        tuples = self._tuple_fields[name]
        kwargs: dict[str, Any] = {}
        for key, raw in data.items():
            if key == TAG:
                continue
            value = self.decode(raw)
            kwargs[key] = tuple(value) if key in tuples and isinstance(value, list) else value
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise CodecError(f"{name} does not match this version: {exc}") from None
