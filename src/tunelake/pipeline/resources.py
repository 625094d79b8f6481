"""The storage a run works on, opened from settings: warehouse, lake, serving store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from tunelake.config import Settings
from tunelake.storage.lake import open_lake
from tunelake.storage.lake.port import Lake
from tunelake.storage.serving import open_serving
from tunelake.storage.serving.port import ServingStore
from tunelake.storage.warehouse import open_warehouse
from tunelake.storage.warehouse.port import Warehouse


@dataclass(frozen=True)
class Resources:
    settings: Settings
    warehouse: Warehouse
    lake: Lake
    serving: ServingStore

    def outputs(self) -> dict[str, str]:
        """Where every output is, safe to print."""
        return {
            "warehouse": self.warehouse.url,
            "lake": self.lake.url,
            "serving": self.serving.url,
            "logs": str(self.settings.logs_dir.resolve()),
            "reports": str(self.settings.reports_dir.resolve()),
        }


@contextmanager
def open_resources(settings: Settings, *, serving: bool = True) -> Iterator[Resources]:
    settings.home.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        warehouse = open_warehouse(settings.resolved_warehouse_url)
        stack.callback(warehouse.close)
        warehouse.migrate()
        lake = open_lake(settings.resolved_lake_url, settings)
        store = open_serving(settings.resolved_serving_url, settings)
        stack.callback(store.close)
        yield Resources(settings, warehouse, lake, store)
