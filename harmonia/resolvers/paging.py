"""Relay slices over a source's own pages: every edge gets a cursor that resumes right after it.

    page = await slice_pages(store.list_orders, kind="orders", first=50, after=None, max_page=250)

A cursor wraps the source cursor of the page the edge came from plus the offset inside that
page. The last edge of a source page points at the source's next-page cursor instead, so a
client walking ``endCursor`` page by page costs exactly one upstream call per page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from harmonia.errors import BadUserInput
from harmonia.resolvers.ids import decode_cursor, encode_cursor
from harmonia.sources.records import Page

T = TypeVar("T")
FetchPage = Callable[[int, str | None], Awaitable[Page[T]]]


@dataclass(frozen=True, slots=True)
class Edge(Generic[T]):
    cursor: str
    node: T


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    edges: list[Edge[T]]
    has_next_page: bool
    total: int | None = None

    @property
    def end_cursor(self) -> str | None:
        return self.edges[-1].cursor if self.edges else None


def check_first(first: int, max_page_size: int) -> None:
    if first < 0:
        raise BadUserInput("`first` must not be negative", argument="first", value=first)
    if first > max_page_size:
        raise BadUserInput(
            f"`first` may be at most {max_page_size}", argument="first", value=first, limit=max_page_size
        )


def read_cursor(after: str | None, kind: str) -> tuple[str | None, int]:
    data = decode_cursor(after)
    if not data:
        return None, 0
    if data.get("k") != kind:
        raise BadUserInput(f"This cursor does not belong to a {kind} connection")
    source_cursor, offset = data.get("a"), data.get("o", 0)
    if not (source_cursor is None or isinstance(source_cursor, str)) or not isinstance(offset, int) or offset < 0:
        raise BadUserInput("Not a valid cursor: pass an endCursor or an edge cursor from this API")
    return source_cursor, offset


@lru_cache(maxsize=65_536)  # pure; a page's fifty edge cursors come back with every read of that page
def make_cursor(kind: str, source_cursor: str | None, offset: int) -> str:
    return encode_cursor({"k": kind, "a": source_cursor, "o": offset})


async def slice_pages(fetch: FetchPage[T], *, kind: str, first: int, after: str | None, max_page: int) -> Slice[T]:
    page_cursor, skip = read_cursor(after, kind)
    edges: list[Edge[T]] = []
    total: int | None = None
    if first == 0:
        return Slice(edges, has_next_page=False)
    while True:
        page = await fetch(min(max_page, skip + first - len(edges)), page_cursor)
        total = page.total if page.total is not None else total
        last = len(page.items) - 1
        for index in range(skip, len(page.items)):
            if len(edges) == first:
                return Slice(edges, has_next_page=True, total=total)
            if index == last and page.next_cursor is not None:
                cursor = make_cursor(kind, page.next_cursor, 0)
            else:
                cursor = make_cursor(kind, page_cursor, index + 1)
            edges.append(Edge(cursor, page.items[index]))
        if page.next_cursor is None:
            return Slice(edges, has_next_page=False, total=total)
        if len(edges) == first:
            return Slice(edges, has_next_page=True, total=total)
        page_cursor, skip = page.next_cursor, 0
