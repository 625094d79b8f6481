"""Request counters of a running catalog server, read by tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

#: Kinds of requests that are not calls to a music API.
NOT_API = frozenset({"token", "admin", "unknown"})


class Stats:
    """Requests by (kind, status) and injected faults by name.

    The server's event loop writes while a test thread reads, hence the lock.
    """

    def __init__(
        self,
        requests: Counter[tuple[str, int]] | None = None,
        faults: Counter[str] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, int]] = requests or Counter()
        self._faults: Counter[str] = faults or Counter()

    def record(self, kind: str, status: int) -> None:
        with self._lock:
            self._requests[kind, status] += 1

    def fault(self, name: str) -> None:
        with self._lock:
            self._faults[name] += 1

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    def count(self, kind: str | None = None, status: int | None = None) -> int:
        """Requests of `kind` (any when None) answered `status` (any when None)."""
        with self._lock:
            return sum(
                n
                for (k, s), n in self._requests.items()
                if (kind is None or k == kind) and (status is None or s == status)
            )

    @property
    def api_requests(self) -> int:
        """Calls to the Spotify-compatible and ReccoBeats-compatible APIs."""
        with self._lock:
            return sum(n for (k, _), n in self._requests.items() if k not in NOT_API)

    def faults(self, name: str) -> int:
        """How often fault `name` was injected: 5xx, 429_burst, drop or malformed."""
        with self._lock:
            return self._faults[name]

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            by_kind: dict[str, dict[str, int]] = {}
            for (kind, status), n in sorted(self._requests.items()):
                by_kind.setdefault(kind, {})[str(status)] = n
            faults = dict(sorted(self._faults.items()))
            api = sum(n for (k, _), n in self._requests.items() if k not in NOT_API)
        return {"api_requests": api, "requests": by_kind, "faults": faults}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stats:
        requests: Counter[tuple[str, int]] = Counter(
            {
                (kind, int(status)): n
                for kind, statuses in data["requests"].items()
                for status, n in statuses.items()
            }
        )
        return cls(requests, Counter(data["faults"]))

    def __repr__(self) -> str:
        return f"Stats({self.to_dict()})"
