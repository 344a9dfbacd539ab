"""Shopify's search syntax and cursor paging, as the simulator reads them.

    terms = parse_search('email:"ada@example.com" created_at:>=2024-01-01')
    page = paginate(rows, key=lambda r: r["id"], first=50, after=None, reverse=False)

The search string is read as upstreams.md says the fakes read it: terms joined by AND (the word
``AND`` may be written or not), each ``field:value`` with the ``:``, ``:>``, ``:>=``, ``:<`` and
``:<=`` comparators, values optionally quoted; a bare word searches the record's text. Cursors are
opaque (base64 of the last row's sort value and id), as Shopify's are.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from graphql import GraphQLError

MAX_PAGE = 250
_TERM = re.compile(r'(?:(?P<field>[a-z_]+):(?P<op>>=|<=|>|<)?)?(?P<value>"[^"]*"|\'[^\']*\'|\S+)')

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Term:
    field: str | None   # None: free text
    op: str             # "=", ">", ">=", "<", "<="
    value: str


def parse_search(text: str | None) -> list[Term]:
    terms: list[Term] = []
    for match in _TERM.finditer(text or ""):
        value = match.group("value")
        if match.group("field") is None and value.upper() == "AND":
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        terms.append(Term(match.group("field"), match.group("op") or "=", value))
    return terms


def epoch(text: str) -> float:
    """A date or datetime (any offset, ``Z``) as seconds; ValueError when it is neither."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def compare(actual: Any, term: Term) -> bool:
    """Whether a record's ``actual`` value passes ``term`` (numbers and dates by value, text case-blind)."""
    if actual is None:
        return False
    wanted: Any = term.value
    if isinstance(actual, int | float):
        try:
            wanted = float(wanted) if isinstance(actual, float) else int(wanted.rsplit("/", 1)[-1])
        except ValueError:
            return False
    else:
        actual, wanted = str(actual).strip().lower(), str(wanted).strip().lower()
    if term.op == "=":
        return bool(actual == wanted)
    if term.op == ">":
        return bool(actual > wanted)
    if term.op == ">=":
        return bool(actual >= wanted)
    if term.op == "<":
        return bool(actual < wanted)
    return bool(actual <= wanted)


def date_filter(term: Term, stamp: float) -> bool:
    try:
        wanted = epoch(term.value)
    except ValueError:
        raise GraphQLError(f"Invalid date in search term: {term.field}:{term.value}") from None
    return compare(stamp, Term(term.field, term.op, repr(wanted)))


# --- cursors and pages -----------------------------------------------------------------------

def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"last_id": row_id})).decode()


def decode_cursor(cursor: str) -> int:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(payload, dict) and isinstance(payload.get("last_id"), int):
            return int(payload["last_id"])
    except (ValueError, TypeError):
        pass
    raise GraphQLError("Invalid cursor for current pagination sort.")


@dataclass(frozen=True, slots=True)
class Window:
    rows: list[Row]
    has_next: bool
    has_previous: bool


def paginate(rows: Sequence[Row], *, first: int | None, after: str | None, last: int | None, before: str | None,
             reverse: bool, key: Callable[[Row], Any] | None = None) -> Window:
    """One page of ``rows`` (already filtered) in sort order, by Relay's rules; ``key`` None: ``rows``
    are in id order already (the index keeps them so: no sort per request)."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise GraphQLError(f"The value of `{name}` must be between 0 and {MAX_PAGE}.")
    if key is None:
        ordered = list(reversed(rows)) if reverse else list(rows)
    else:
        sort_key = key
        ordered = sorted(rows, key=lambda r: (sort_key(r), r["id"]), reverse=reverse)
    ids = [r["id"] for r in ordered]
    start, end = 0, len(ordered)
    if after is not None:
        start = _position(ids, decode_cursor(after)) + 1
    if before is not None:
        end = _position(ids, decode_cursor(before))
    span = ordered[start:max(start, end)]
    if first is not None and len(span) > first:
        return Window(span[:first], has_next=True, has_previous=start > 0)
    if last is not None and len(span) > last:
        return Window(span[len(span) - last:], has_next=end < len(ordered), has_previous=True)
    return Window(span, has_next=end < len(ordered), has_previous=start > 0)


def _position(ids: list[int], row_id: int) -> int:
    try:
        return ids.index(row_id)
    except ValueError:
        # The row left the list (deleted, redacted out of a filter): resume after the ids below it.
        below = [i for i, value in enumerate(ids) if value < row_id]
        return below[-1] if below else -1
