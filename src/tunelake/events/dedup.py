"""Which event ids `plays` already holds, to drop a duplicate event_id (counted, not written).

The horizon is by event time: a duplicate is caught whatever the gap between its two sends, as
long as its day is among the `days` most recently touched event-time days, whose ids are kept
in memory (8 bytes an event: a sorted NumPy array of 64-bit keys per day). A day is loaded from
the lake the first time a batch touches it (so a restarted consumer still knows what earlier
runs committed); the least recently touched day is dropped past `days`. A late event for a day
dropped earlier loads it again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import pyarrow as pa

from tunelake.events.validate import event_keys

MICROS_A_DAY = 86_400_000_000


class SeenIds:
    def __init__(
        self, load: Callable[[date], pa.Array | pa.ChunkedArray | Sequence[str]], days: int
    ) -> None:
        """load(day): the event ids `plays` holds for that event-time day."""
        self._load = load
        self._days = days
        self._seen: OrderedDict[int, np.ndarray] = OrderedDict()

    def _day(self, day: int) -> np.ndarray:
        if day in self._seen:
            self._seen.move_to_end(day)
        else:
            ids = self._load(date.fromordinal(date(1970, 1, 1).toordinal() + day))
            self._seen[day] = np.unique(event_keys(ids))
            while len(self._seen) > self._days:
                self._seen.popitem(last=False)
        return self._seen[day]

    def fresh(
        self, keys: np.ndarray | Sequence[int], micros: np.ndarray | Sequence[int]
    ) -> np.ndarray:
        """Indexes of the events to keep: the first of each key not seen before (in the lake
        or earlier in this batch); the kept keys count as seen from now on."""
        keyed = np.asarray(keys, dtype=np.uint64)
        days = np.asarray(micros, dtype=np.int64) // MICROS_A_DAY
        keep = np.zeros(len(keyed), dtype=bool)
        for day in np.unique(days).tolist():
            at = np.flatnonzero(days == day)
            seen = self._day(day)
            # Sorted, each with its first index: sorted needles search the day's keys fast.
            unique, first = np.unique(keyed[at], return_index=True)
            new = ~_contains(seen, unique)
            keep[at[first[new]]] = True
            added = unique[new]
            # A merge into the sorted keys (one copy), not a union (a sort of all: quadratic
            # over a day of batches).
            self._seen[day] = np.insert(seen, np.searchsorted(seen, added), added)
        return np.flatnonzero(keep)


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys
