"""A circuit breaker per source: after repeated failures, answer at once instead of waiting on a dead API.

    circuit = Circuit("shopify", CircuitPolicy(failure_threshold=5, reset_seconds=5.0), shared)
    probe = await circuit.allow(patience=2.0)   # raises UpstreamUnavailable at once while the circuit is open
    try:
        ...                                     # the request
        await circuit.record(ok=True)           # a success closes a half-open circuit; failures open a closed one
    finally:
        if probe:
            circuit.probe_ended()               # a probe that never recorded (cancelled) lets its waiters go

    await is_open(circuit)           # for a cache deciding to serve stale data instead of asking

States: closed (calls pass; ``failure_threshold`` failures within ``failure_window`` seconds open it),
open (calls fail at once for ``reset_seconds``), half-open (one probe call at a time passes; its
success closes the circuit, its failure opens it again). Calls of this process that arrive while its
own probe is out wait for the probe's outcome (up to ``patience``) rather than fail: the first query
after an outage asks for many records at once, and all but one of them losing the race to be the
probe would answer errors although the source is back. With Redis (``SharedRedis``) the state is
one hash per source that every gateway instance reads and writes atomically in Lua, so one
instance's failures spare the others the wait; without Redis, or while it is down, each process
keeps its own state with the same rules. Another instance's probe is not waited for: its outcome
reaches this process only through Redis, so those calls are refused at once as while open.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import cast

from harmonia.errors import UpstreamUnavailable
from harmonia.sources.shared import SharedRedis, SharedUnavailable

KEY = "harmonia:circuit:{source}"

# Returns 0 (closed: pass), -1 (half-open: this call is the probe) or the milliseconds to wait (open).
_ALLOW = """
local v = redis.call('HMGET', KEYS[1], 'open_until', 'probe_until')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local open_until = tonumber(v[1]) or 0
if open_until == 0 then return 0 end
if now < open_until then return open_until - now end
local probe_until = tonumber(v[2]) or 0
if probe_until > now then return probe_until - now end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[1]))
return -1
"""

# ARGV: ok (1/0), threshold, reset_ms, failure_window_ms. Returns 1 when the circuit is (now) open.
_RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until')) or 0
local reset = tonumber(ARGV[3])
if ARGV[1] == '1' then
  if open_until ~= 0 and now >= open_until then redis.call('DEL', KEYS[1]) end
  if open_until == 0 then redis.call('HDEL', KEYS[1], 'failures') end
  return 0
end
if open_until ~= 0 then
  if now >= open_until then
    redis.call('HSET', KEYS[1], 'open_until', now + reset, 'probe_until', 0)
    redis.call('PEXPIRE', KEYS[1], reset * 10)
  end
  return 1
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'open_until', now + reset, 'probe_until', 0, 'failures', 0)
  redis.call('PEXPIRE', KEYS[1], reset * 10)
  return 1
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return 0
"""


# Returns 0 (closed), 1 (open) or 2 (half-open), on Redis' clock, without taking a probe slot.
_STATE = """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until')) or 0
if open_until == 0 then return 0 end
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) < open_until then return 1 end
return 2
"""


@dataclass(frozen=True)
class CircuitPolicy:
    failure_threshold: int = 5
    failure_window: float = 30.0
    reset_seconds: float = 5.0
    probe_seconds: float = 10.0  # a probe slower than this lets another call probe


class _LocalState:
    """The same rules as the Lua scripts, for one process (no Redis, or Redis down)."""

    def __init__(self) -> None:
        self.failures = 0
        self.last_failure = 0.0
        self.open_until = 0.0
        self.probe_until = 0.0

    def allow(self, now: float, probe_seconds: float) -> float:
        if self.open_until == 0.0:
            return 0.0
        if now < self.open_until:
            return self.open_until - now
        if self.probe_until > now:
            return self.probe_until - now
        self.probe_until = now + probe_seconds
        return -1.0

    def record(self, ok: bool, now: float, policy: CircuitPolicy) -> None:
        if ok:
            if self.open_until == 0.0 or now >= self.open_until:
                self.failures, self.open_until, self.probe_until = 0, 0.0, 0.0
            return
        if self.open_until != 0.0:
            if now >= self.open_until:
                self.open_until, self.probe_until = now + policy.reset_seconds, 0.0
            return
        if now - self.last_failure > policy.failure_window:
            self.failures = 0
        self.failures += 1
        self.last_failure = now
        if self.failures >= policy.failure_threshold:
            self.failures, self.open_until, self.probe_until = 0, now + policy.reset_seconds, 0.0


class Circuit:
    """One source's breaker; its state lives in Redis when ``shared`` is given and up."""

    def __init__(self, source: str, policy: CircuitPolicy | None = None, shared: SharedRedis | None = None,
                 *, account: str = "") -> None:
        self.source = source
        self.policy = policy or CircuitPolicy()
        self.shared = shared
        # ``account`` tells apart two deployments on one Redis that reach different accounts of one SaaS.
        self.key = KEY.format(source=f"{source}:{account}" if account else source)
        self._local = _LocalState()
        # Successes are written to Redis only while this process has reason to think the circuit is not
        # plainly closed (it saw a failure, or Redis said open/half-open): one round trip per call, not two.
        self._suspect_until = 0.0
        # This process's half-open probe while it is out: True when it found the source up.
        self._probe: asyncio.Future[bool] | None = None
        self._asking: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def _allow_wait(self) -> float:
        """0: pass; -1: pass as the half-open probe; > 0: open, seconds until a probe may pass."""
        if self.shared is not None:
            try:
                result = await self.shared.run(_ALLOW, [self.key], [int(self.policy.probe_seconds * 1000)])
                value = float(cast(int, result))
                if value != 0:
                    self._suspect_until = time.monotonic() + self.policy.failure_window
                return value / 1000.0 if value > 0 else value
            except SharedUnavailable:
                pass
        return self._local.allow(time.monotonic(), self.policy.probe_seconds)

    async def allow(self, patience: float = 0.0) -> bool:
        """Pass (True: as the half-open probe, whose caller must end with ``record`` or ``probe_ended``),
        or raise UpstreamUnavailable. Behind this process's own probe, wait up to ``patience`` seconds."""
        if time.monotonic() >= self._suspect_until:
            wait = await self._allow_wait()  # the plain closed case: no lock, one round trip
        else:
            # Failures seen lately: one caller at a time asks, so the one that becomes the probe is
            # known here before the next asks (concurrent round trips may come back in any order).
            async with self._asking_lock():
                if (probe := self._pending_probe()) is not None:
                    return await self._behind(probe, self.policy.probe_seconds, patience)
                wait = await self._allow_wait()
                if wait < 0:
                    self._probe = asyncio.get_running_loop().create_future()
                    return True
        if wait > 0:
            if (probe := self._pending_probe()) is not None:
                return await self._behind(probe, wait, patience)
            raise self._refusal(wait)
        if wait < 0:
            self.probe_ended()  # a probe of ours that never recorded, superseded
            self._probe = asyncio.get_running_loop().create_future()
            return True
        return False

    def _asking_lock(self) -> asyncio.Lock:
        """The lock of the running loop: an app (and its circuits) may outlive one event loop, e.g. in tests."""
        loop = asyncio.get_running_loop()
        if self._asking is None or self._asking[0] is not loop:
            self._asking = (loop, asyncio.Lock())
        return self._asking[1]

    def _pending_probe(self) -> asyncio.Future[bool] | None:
        """This process's probe while it is out (in this event loop: one of a loop gone is forgotten)."""
        probe = self._probe
        if probe is None or probe.done():
            return None
        if probe.get_loop() is not asyncio.get_running_loop():
            self._probe = None
            return None
        return probe

    async def _behind(self, probe: asyncio.Future[bool], wait: float, patience: float) -> bool:
        """Wait for this process's probe: pass if it found the source up, else refuse."""
        if patience > 0:
            try:
                async with asyncio.timeout(min(wait, patience)):
                    if await asyncio.shield(probe):
                        return False  # the probe found the source up: pass, as once closed
            except TimeoutError:
                pass
        raise self._refusal(wait)

    def _refusal(self, wait: float) -> UpstreamUnavailable:
        return UpstreamUnavailable(self.source, f"{self.source} is unavailable; Harmonia stopped calling it "
                                   "for a few seconds after repeated failures", circuit="open",
                                   retryAfterSeconds=max(1, round(wait)))

    def probe_ended(self, ok: bool = False) -> None:
        """Tell the calls waiting behind this process's probe how it went (a no-op once told)."""
        probe, self._probe = self._probe, None
        if probe is not None and not probe.done():
            probe.set_result(ok)

    async def record(self, ok: bool) -> None:
        # Any outcome seen after the pause is what the probe is for: the Lua script and the local
        # state close or reopen the circuit on it, whichever call it came from.
        try:
            await self._record(ok)
        finally:
            self.probe_ended(ok)

    async def _record(self, ok: bool) -> None:
        now = time.monotonic()
        if not ok:
            self._suspect_until = now + self.policy.failure_window
        elif now >= self._suspect_until:
            self._local.record(ok, now, self.policy)
            return
        if self.shared is not None:
            p = self.policy
            try:
                await self.shared.run(_RECORD, [self.key], [
                    "1" if ok else "0", p.failure_threshold, int(p.reset_seconds * 1000),
                    int(p.failure_window * 1000)])
                return
            except SharedUnavailable:
                pass
        self._local.record(ok, time.monotonic(), self.policy)

    async def state(self) -> str:
        """``closed``, ``open`` or ``half_open``, without taking a half-open probe slot."""
        if self.shared is not None and self.shared.up:
            try:
                state = await self.shared.run(_STATE, [self.key], [])
                return {0: "closed", 1: "open"}.get(cast(int, state), "half_open")
            except SharedUnavailable:
                pass  # report what this process knows
        local = self._local
        if local.open_until == 0.0:
            return "closed"
        return "open" if time.monotonic() < local.open_until else "half_open"


async def is_open(circuit: Circuit) -> bool:
    """Whether calls to this source would be refused right now (a cache may then serve stale data)."""
    return await circuit.state() == "open"
