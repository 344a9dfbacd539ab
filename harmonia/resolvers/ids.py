"""Global ids and connection cursors: opaque to clients, stable across processes and restarts.

    encode_id("Customer", "151")              -> "Q3VzdG9tZXI6MTUx"
    decode_id("Q3VzdG9tZXI6MTUx")             -> ("Customer", "151")
    encode_cursor({"a": "152", "o": 3})       -> "eyJhIjoiMTUyIiwibyI6M30"

Both are URL-safe base64 of plain data derived only from the sources' own ids and cursors,
so any gateway instance, today or after a restart, reads what another one wrote.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

import orjson

from harmonia.errors import BadUserInput

NODE_TYPES = frozenset({"Customer", "Order", "Campaign"})


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=65_536)  # pure; every page wraps its records again, and ids repeat across requests
def encode_id(type_name: str, *parts: str) -> str:
    return _b64(":".join((type_name, *parts)).encode())


def decode_id(global_id: str, expected: str | None = None) -> tuple[str, str]:
    """(type name, local id); raises BadUserInput for anything Harmonia did not issue."""
    try:
        type_name, sep, local = _unb64(global_id.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"Not a valid id: {global_id[:64]!r}") from None
    if not sep or not local or type_name not in NODE_TYPES:
        raise BadUserInput(f"Not a valid id: {global_id[:64]!r}")
    if expected is not None and type_name != expected:
        raise BadUserInput(f"The id {global_id[:64]!r} is not a {expected} id")
    return type_name, local


def encode_cursor(data: dict[str, Any]) -> str:
    return _b64(orjson.dumps(data))


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    if cursor is None:
        return {}
    try:
        data = orjson.loads(_unb64(cursor.strip()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise BadUserInput("Not a valid cursor: pass an endCursor or an edge cursor from this API") from None
    if not isinstance(data, dict):
        raise BadUserInput("Not a valid cursor: pass an endCursor or an edge cursor from this API")
    return data
