"""Reproducible fault decisions: request number `n` under fault seed `s` always meets the same
fate, whatever the timing, so a flaky-looking client failure can be replayed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tunelake.sources.catalog.options import FaultOptions

SERVER_ERRORS = (500, 502, 503)


@dataclass(frozen=True)
class Fate:
    delay: float = 0.0
    """Seconds to wait before answering."""
    status: int | None = None
    """An injected error status (429 or 5xx) instead of the real answer."""
    retry_after: str = ""
    """The Retry-After header of an injected 429."""
    drop: bool = False
    malformed: bool = False


class FaultPlan:
    def __init__(self, options: FaultOptions) -> None:
        self.options = options
        self.reset()

    def reset(self) -> None:
        self._n = 0
        self._burst_left = 0

    def _uniforms(self, n: int) -> list[float]:
        digest = hashlib.blake2b(f"{self.options.seed}:{n}".encode(), digest_size=48).digest()
        return [int.from_bytes(digest[i : i + 8], "big") / 2**64 for i in range(0, 48, 8)]

    def next(self) -> Fate:
        """The fate of the next API request, in arrival order."""
        o = self.options
        n, self._n = self._n, self._n + 1
        u_burst, u_5xx, u_which, u_drop, u_malformed, u_jitter = self._uniforms(n)
        delay = (o.latency_ms + u_jitter * o.jitter_ms) / 1000.0
        if self._burst_left == 0 and u_burst < o.burst_429:
            self._burst_left = o.burst_length
        if self._burst_left:
            self._burst_left -= 1
            return Fate(delay, 429, f"{o.burst_retry_after:g}")
        if u_5xx < o.error_5xx:
            return Fate(delay, SERVER_ERRORS[int(u_which * len(SERVER_ERRORS))])
        return Fate(delay, drop=u_drop < o.drop, malformed=u_malformed < o.malformed)
