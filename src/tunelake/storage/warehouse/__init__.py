"""The warehouse: relational current state on SQLite, MariaDB/MySQL or PostgreSQL.

`open_warehouse(url)` gives the adapter for a SQLAlchemy URL; `migrate()` it before use.
"""

from __future__ import annotations

from tunelake.storage.warehouse.port import Warehouse, WarehouseUnavailable
from tunelake.storage.warehouse.sql import SqlWarehouse

__all__ = ["SqlWarehouse", "Warehouse", "WarehouseUnavailable", "open_warehouse"]


def open_warehouse(url: str, *, read_only: bool = False) -> SqlWarehouse:
    """The warehouse at `url` (sqlite:///…, mysql+pymysql://…, postgresql+psycopg://…; a URL
    without a driver gets that one). Nothing connects until first use. A reader says
    read_only: a SQLite file in a folder it cannot write is then opened immutable."""
    return SqlWarehouse(url, read_only=read_only)
