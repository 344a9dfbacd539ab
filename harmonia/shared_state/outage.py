"""What a Redis failure means for a caller: one cool-down, logged once per outage, never a failed query.

    outage = Outage("pacing and circuits", cooldown=1.0)
    if outage.up:
        try:
            value = await client.get(key); outage.succeeded()
        except FAILURES as exc:
            outage.failed(exc); value = in_process_value

A Redis that is down must not cost a timeout per call: the first failure marks it down for
``cooldown`` seconds, during which callers go straight to their in-process state; the next call
after that tries Redis again. The log says which state fell back and when it came back, never the
URL (it may hold a password).
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.exceptions import RedisError

log = logging.getLogger("harmonia.shared_state")

# Everything a Redis call can fail with that means "Redis is not there right now".
FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


class SharedUnavailable(Exception):
    """Redis could not be reached (or is in its cool-down): use the in-process state."""


class Outage:
    def __init__(self, what: str, cooldown: float, *, fallback: str = "in-process state") -> None:
        self.what = what
        self.cooldown = cooldown
        self.fallback = fallback
        self._down_until = 0.0
        self._down = False

    @property
    def up(self) -> bool:
        return time.monotonic() >= self._down_until

    @property
    def down(self) -> bool:
        """Within the cool-down of a failure."""
        return not self.up

    def failed(self, exc: BaseException) -> None:
        if not self._down:
            log.warning("redis unavailable for %s (%s); %s for %.0f s, then Redis again", self.what,
                        type(exc).__name__, self.fallback, self.cooldown)
        self._down = True
        self._down_until = time.monotonic() + self.cooldown

    def succeeded(self) -> None:
        if self._down:
            log.warning("redis reachable again for %s", self.what)
            self._down = False
        self._down_until = 0.0
