"""Give the C heap's free pages back to the system now and then, so a burst's memory does not stay resident.

    trimmer = MemoryTrimmer(every=30.0)     # in the app's lifespan: start() / await stop()

A fault that piles requests up (a source timing out at the operation deadline) holds a few hundred
requests' buffers at once; once they are freed, glibc keeps the pages in its heap holes and arenas,
and the process's RSS stays at the burst's high-water mark: the steps of the 20-minute soak. ``malloc_trim(0)``
returns every whole free page (it takes a millisecond or two); Python's own small-object arenas are
released by CPython itself when empty. No-op where the C library has no ``malloc_trim`` (musl, macOS).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[], object] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class MemoryTrimmer:
    def __init__(self, every: float) -> None:
        self.every = every
        self._trim = _malloc_trim() if every > 0 else None
        self._task: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        return self._trim is not None

    def trim(self) -> None:
        if self._trim is not None:
            self._trim()

    def start(self) -> None:
        if self._trim is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="malloc-trim")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.trim()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
