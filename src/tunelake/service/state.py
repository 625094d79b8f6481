"""What the app keeps for its whole life: its settings and the stores it reads, opened on
first use and kept open, so that a lookup is one read on an open connection."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import TypeVar

from tunelake.config import Settings
from tunelake.errors import NotFound, TransientError
from tunelake.pipeline.resources import reading_lake, reading_serving, reading_warehouse
from tunelake.storage.lake.iceberg_lake import IcebergLake
from tunelake.storage.serving.port import ServingStore
from tunelake.storage.warehouse.port import Warehouse

T = TypeVar("T")


class NothingPublished(TransientError):
    """The embedded stores do not exist yet: no run has written them. Said without the
    server's paths, which are no client's business."""

    def __init__(self) -> None:
        super().__init__("nothing has been published yet: run `tunelake run`, then ask again")


@dataclass
class Service:
    settings: Settings
    _stack: ExitStack = field(default_factory=ExitStack)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serving: ServingStore | None = None
    _warehouse: Warehouse | None = None
    _lake: IcebergLake | None = None

    # The lock: two first requests at once must not open two stores, one never closed.
    def serving(self) -> ServingStore:
        with self._lock:
            if self._serving is None:
                self._serving = self._open(reading_serving(self.settings))
            return self._serving

    def warehouse(self) -> Warehouse:
        with self._lock:
            if self._warehouse is None:
                self._warehouse = self._open(reading_warehouse(self.settings))
            return self._warehouse

    def lake(self) -> IcebergLake:
        """The lake, for the listening reads (each read loads the table's current snapshot)."""
        with self._lock:
            if self._lake is None:
                try:
                    self._lake = reading_lake(self.settings)
                except NotFound:
                    raise NothingPublished() from None
            return self._lake

    def _open(self, opening: AbstractContextManager[T]) -> T:
        try:
            return self._stack.enter_context(opening)
        except NotFound:
            raise NothingPublished() from None

    def close(self) -> None:
        with self._lock:
            self._stack.close()
            self._serving = self._warehouse = None
