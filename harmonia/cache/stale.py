"""Stale answers a request served: noted where the resolver awaited them, listed in ``extensions``.

    with collecting() as notes:             # around one field's resolver (the schema edge)
        value = await resolve()
    report(StaleNote("shopify", 42.0))      # wherever a stale record reached that resolver

The collector is a context variable of the resolver's own task, so notes land on the field that
used the stale record, not on whichever request happened to start a shared batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StaleNote:
    source: str
    age: float  # seconds since the record was fetched


_sink: ContextVar[list[StaleNote] | None] = ContextVar("harmonia_stale_sink", default=None)


@contextmanager
def collecting() -> Iterator[list[StaleNote]]:
    notes, token = begin()
    try:
        yield notes
    finally:
        end(token)


def begin() -> tuple[list[StaleNote], Token[list[StaleNote] | None]]:
    """``collecting()`` without a generator context manager, for the per-field hot path:
    ``notes, token = begin()`` ... ``end(token)`` in a ``finally``."""
    notes: list[StaleNote] = []
    return notes, _sink.set(notes)


def end(token: Token[list[StaleNote] | None]) -> None:
    _sink.reset(token)


def report(note: StaleNote) -> None:
    sink = _sink.get()
    if sink is not None:
        sink.append(note)


@dataclass(frozen=True, slots=True)
class Noted(Generic[T]):
    """One object's answer in a batched field (``harmonia.schema.lean``), served from stale records.

    A batch answers many objects from one task, so a context-variable collector cannot tell whose
    note is whose: each item carries its own notes, and the executor lists them on that item's path.
    """

    value: T
    notes: list[StaleNote]


def each_value(results: Sequence[Any], fn: Callable[[Any], Any]) -> list[Any]:
    """``fn`` over a batch's answers: plain values and ``Noted`` ones (notes kept), exceptions as they are."""
    out: list[Any] = []
    for result in results:
        if isinstance(result, BaseException):
            out.append(result)
        elif type(result) is Noted:
            out.append(Noted(fn(result.value), result.notes))
        else:
            out.append(fn(result))
    return out


def summarize(notes: list[StaleNote]) -> list[StaleNote]:
    """One note per source, with the oldest age."""
    oldest: dict[str, float] = {}
    for note in notes:
        oldest[note.source] = max(note.age, oldest.get(note.source, 0.0))
    return [StaleNote(source, age) for source, age in oldest.items()]
