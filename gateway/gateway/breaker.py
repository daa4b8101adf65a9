"""A circuit breaker per service: after N consecutive failures to reach it, the gateway stops trying for a
while and answers 503 at once (with Retry-After) instead of making every caller wait for a timeout. When the
pause is over, one request is let through as a probe: success closes the circuit, failure opens it again."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog

from gateway.errors import UpstreamUnavailable

log = structlog.get_logger("linli.gateway.breaker")


@dataclass
class _Circuit:
    failures: int = 0
    open_until: float = 0.0
    probing: bool = False


class CircuitBreakers:
    def __init__(self, failure_threshold: int, open_seconds: float) -> None:
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self._circuits: dict[str, _Circuit] = {}

    def state(self, upstream: str) -> str:
        circuit = self._circuits.get(upstream)
        if circuit is None or circuit.failures < self.failure_threshold:
            return "closed"
        return "half-open" if time.monotonic() >= circuit.open_until else "open"

    def before(self, upstream: str) -> None:
        """Raise UpstreamUnavailable while the circuit is open (or its one probe is under way)."""
        circuit = self._circuits.get(upstream)
        if circuit is None or circuit.failures < self.failure_threshold:
            return
        now = time.monotonic()
        if now >= circuit.open_until and not circuit.probing:
            circuit.probing = True  # this request is the probe
            return
        wait = max(1, math.ceil(circuit.open_until - now))
        raise UpstreamUnavailable(
            f"The {upstream} service is failing; the gateway pauses calls to it.",
            code="circuit_open",
            retry_after=wait,
        )

    def succeeded(self, upstream: str) -> None:
        circuit = self._circuits.get(upstream)
        if circuit is not None and circuit.failures:
            if circuit.failures >= self.failure_threshold:
                log.info("circuit closed", upstream=upstream)
            self._circuits[upstream] = _Circuit()

    def abandoned(self, upstream: str) -> None:
        """The request was cancelled (the caller left): it proves nothing, so a probe may be tried again."""
        circuit = self._circuits.get(upstream)
        if circuit is not None:
            circuit.probing = False

    def failed(self, upstream: str) -> None:
        circuit = self._circuits.setdefault(upstream, _Circuit())
        circuit.failures += 1
        circuit.probing = False
        if circuit.failures >= self.failure_threshold:
            circuit.open_until = time.monotonic() + self.open_seconds
            if circuit.failures == self.failure_threshold:
                log.warning("circuit opened", upstream=upstream, seconds=self.open_seconds)
