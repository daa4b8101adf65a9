"""A circuit breaker per replica of a service: after N consecutive failures to reach it, the gateway stops
trying that replica for a while and sends its callers to the other replicas. When every replica of a service
is paused, the gateway answers 503 at once (with Retry-After) instead of making every caller wait for a
timeout. When the pause is over, one request is let through as a probe: success closes the circuit, failure
opens it again."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("linli.gateway.breaker")


@dataclass
class _Circuit:
    failures: int = 0
    open_until: float = 0.0
    probing: bool = False


class CircuitBreakers:
    """Circuits by key: a replica's base URL (``http://10.0.0.7:8102``)."""

    def __init__(
        self,
        failure_threshold: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.clock = clock  # seconds, monotonic; tests move a clock of their own instead of sleeping
        self.on_change = on_change  # told (key, open?) when a circuit opens or closes: the gateway's metrics
        self._circuits: dict[str, _Circuit] = {}

    def state(self, key: str) -> str:
        circuit = self._circuits.get(key)
        if circuit is None or circuit.failures < self.failure_threshold:
            return "closed"
        return "half-open" if self.clock() >= circuit.open_until else "open"

    def acquire(self, key: str) -> bool:
        """Whether a request may go to ``key`` now: its circuit is closed, or this request becomes the probe.
        False while the circuit is open (or its one probe is under way)."""
        circuit = self._circuits.get(key)
        if circuit is None or circuit.failures < self.failure_threshold:
            return True
        if self.clock() >= circuit.open_until and not circuit.probing:
            circuit.probing = True  # this request is the probe
            return True
        return False

    def retry_after(self, key: str) -> int:
        """Whole seconds (at least 1) until ``key`` takes a probe again."""
        circuit = self._circuits.get(key)
        remaining = circuit.open_until - self.clock() if circuit is not None else 0.0
        return max(1, math.ceil(remaining))

    def succeeded(self, key: str) -> None:
        circuit = self._circuits.get(key)
        if circuit is not None and circuit.failures:
            if circuit.failures >= self.failure_threshold:
                log.info("circuit closed", replica=key)
                if self.on_change is not None:
                    self.on_change(key, False)
            self._circuits[key] = _Circuit()

    def abandoned(self, key: str) -> None:
        """The request was cancelled (the caller left): it proves nothing, so a probe may be tried again."""
        circuit = self._circuits.get(key)
        if circuit is not None:
            circuit.probing = False

    def failed(self, key: str) -> None:
        circuit = self._circuits.setdefault(key, _Circuit())
        circuit.failures += 1
        circuit.probing = False
        if circuit.failures >= self.failure_threshold:
            circuit.open_until = self.clock() + self.open_seconds
            if circuit.failures == self.failure_threshold:
                log.warning("circuit opened", replica=key, seconds=self.open_seconds)
                if self.on_change is not None:
                    self.on_change(key, True)
