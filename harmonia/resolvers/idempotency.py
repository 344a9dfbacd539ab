"""Idempotency keys: a mutation retried with the same key gets the first answer back, without a second write.

    store = IdempotencyStore(durable_writes_or_None, settings.idempotency)
    result, replayed = await store.run("tester:updateCustomer:k-1", fingerprint({"id": ..., "input": ...}),
                                       lambda: write_and_return_json_able_dict())

The first call claims the key (Redis ``SET NX``, or a dict in process when no Redis is configured)
and runs the write; its JSON result is kept ``ttl_seconds``. A retry while the first is still
running waits for it; a retry after it returns the stored result. A key reused with different
input is refused (BAD_USER_INPUT), as Stripe does. A failed write releases the key, so a retry
runs it again: only successes are remembered. With Redis, records ride out a failover and are
acknowledged by a replica before the answer goes out (``DurableWrites``); when Redis stays away longer
than that, a mutation with a key is refused (retryable) rather than run without knowing if it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from harmonia.errors import BadUserInput, StateUnavailable
from harmonia.settings import IdempotencySettings
from harmonia.shared_state import DurableWrites, SharedUnavailable

Result = dict[str, Any]
PENDING_TTL = 60          # a claim whose owner died frees itself after this many seconds
WAIT_FOR_FIRST = 15.0     # how long a concurrent retry waits for the first attempt's answer
MAX_KEY = 255


def fingerprint(arguments: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_key(key: str) -> str:
    text = key.strip()
    if not text or len(text) > MAX_KEY or not text.isprintable():
        raise BadUserInput(f"An idempotency key is 1 to {MAX_KEY} printable characters", argument="idempotencyKey")
    return text


class IdempotencyStore:
    def __init__(self, durable: DurableWrites | None, settings: IdempotencySettings) -> None:
        self.durable = durable
        self.ttl = settings.ttl_seconds
        self.prefix = settings.key_prefix
        self._local: dict[str, tuple[float, bytes]] = {}   # key -> (expires at, record)

    async def run(self, key: str, print_: str, action: Callable[[], Awaitable[Result]]) -> tuple[Result, bool]:
        """(result, replayed): replayed is True when the result is the first call's, nothing was written."""
        try:
            return await self._run(self.prefix + key, print_, action)
        except SharedUnavailable:
            raise StateUnavailable("Harmonia cannot reach the store of idempotency keys right now, so it did not "
                                   "run this mutation (it could not tell a retry from a first call); retry shortly",
                                   retryAfterSeconds=5) from None

    async def _run(self, full: str, print_: str, action: Callable[[], Awaitable[Result]]) -> tuple[Result, bool]:
        # The owner token tells our own claim apart when a claim is sent again after its answer was lost.
        owner = uuid.uuid4().hex
        pending = orjson.dumps({"fp": print_, "state": "pending", "owner": owner})
        deadline = time.monotonic() + WAIT_FOR_FIRST
        while not await self._claim(full, pending):
            record = await self._get(full)
            if record is None:
                continue  # the first attempt failed and let go in between: claim it ourselves
            if record.get("owner") == owner and record["state"] == "pending":
                break  # our own claim, made by a try whose answer a failover swallowed
            if record["fp"] != print_:
                raise BadUserInput("This idempotency key was already used with different input",
                                   argument="idempotencyKey")
            if record["state"] == "done":
                result: Result = record["result"]
                return result, True
            if time.monotonic() > deadline:
                raise BadUserInput("A mutation with this idempotency key is still running; retry shortly",
                                   argument="idempotencyKey", retryable=True)
            await asyncio.sleep(0.05)
        try:
            result = await action()
        except BaseException:
            with contextlib.suppress(SharedUnavailable):  # a claim we cannot free lapses after PENDING_TTL
                await self._delete(full)
            raise
        await self._set(full, orjson.dumps({"fp": print_, "state": "done", "result": result}), self.ttl)
        return result, False

    async def _claim(self, key: str, value: bytes) -> bool:
        if self.durable is not None:
            [claimed] = await self.durable.write(key, [("SET", key, value, "NX", "EX", PENDING_TTL)])
            return bool(claimed)
        now = time.monotonic()
        held = self._local.get(key)
        if held is not None and held[0] > now:
            return False
        self._local[key] = (now + PENDING_TTL, value)
        return True

    async def _get(self, key: str) -> dict[str, Any] | None:
        if self.durable is not None:
            raw = await self.durable.read(lambda c: c.get(key))
        else:
            held = self._local.get(key)
            raw = held[1] if held is not None and held[0] > time.monotonic() else None
        if raw is None:
            return None
        record: dict[str, Any] = orjson.loads(raw)
        return record

    async def _set(self, key: str, value: bytes, ttl: int) -> None:
        if self.durable is not None:
            # Acknowledged by a replica before the answer goes out: a failover cannot make a replay run again.
            await self.durable.write(key, [("SET", key, value, "EX", ttl)])
        else:
            self._local[key] = (time.monotonic() + ttl, value)
            if len(self._local) > 100_000:  # in-process only: drop expired claims now and then
                now = time.monotonic()
                self._local = {k: v for k, v in self._local.items() if v[0] > now}

    async def _delete(self, key: str) -> None:
        if self.durable is not None:
            await self.durable.write(key, [("DEL", key)])
        else:
            self._local.pop(key, None)
