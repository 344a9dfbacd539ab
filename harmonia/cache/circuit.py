"""A circuit for an optional dependency: after a failure, stop trying it for a few seconds.

    circuit = Circuit(retry_after=5.0)
    if circuit.allows():
        try: ...; circuit.succeeded()
        except ConnectionError: circuit.failed()
"""

from __future__ import annotations

import time


class Circuit:
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        self._open_until = 0.0
        self.failures = 0

    def allows(self) -> bool:
        # Past the pause, the next call is the probe: one success closes the circuit again.
        return time.monotonic() >= self._open_until

    @property
    def is_open(self) -> bool:
        return not self.allows()

    def failed(self) -> None:
        self.failures += 1
        self._open_until = time.monotonic() + self.retry_after

    def succeeded(self) -> None:
        self._open_until = 0.0
