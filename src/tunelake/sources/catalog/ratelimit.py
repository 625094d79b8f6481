"""A rolling-window rate limit, as Spotify applies it per app."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RollingWindow:
    """At most `limit` admissions in any `window` seconds; refused calls do not count."""

    def __init__(
        self, limit: int | None, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._admitted: deque[float] = deque()

    def reset(self) -> None:
        self._admitted.clear()

    def admit(self) -> float | None:
        """None when admitted, else the seconds until a slot frees."""
        if self.limit is None:
            return None
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - self.window:
            self._admitted.popleft()
        if len(self._admitted) < self.limit:
            self._admitted.append(now)
            return None
        return self._admitted[0] + self.window - now
