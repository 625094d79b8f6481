"""Fixtures for whole-pipeline tests on the embedded defaults (SQLite, local lake, SQLite
serving store, the built-in catalog server)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tunelake.config import Settings, load_settings
from tunelake.datasets import CURATED
from tunelake.pipeline.resources import open_resources

DT = date(2026, 11, 26)
CATALOG_ARTISTS = 60
WAREHOUSE_TABLES = (
    "artists",
    "artist_genres",
    "tracks",
    "top_tracks",
    "audio_features",
    "related_artists",
)
VOLATILE = {"updated_at", "created_at"}


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    monkeypatch.chdir(tmp_path)  # no stray tunelake.toml from the working directory

    def make(name: str = "home", **overrides: Any) -> Settings:
        values = {"home": tmp_path / name, "catalog_artists": CATALOG_ARTISTS, **overrides}
        return load_settings(**values)

    return make


def _rows(table: Any) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in r.items() if k not in VOLATILE} for r in table.to_pylist()]
    return sorted(rows, key=repr)


def snapshot(settings: Settings, dt: date = DT) -> dict[str, Any]:
    """Everything a run leaves behind that must not depend on how the run got there."""
    with open_resources(settings) as res:
        state: dict[str, Any] = {
            f"warehouse.{t}": _rows(res.warehouse.read(t)) for t in WAREHOUSE_TABLES
        }
        for name in CURATED:
            table = res.lake.read_partition(name, dt)
            state[f"lake.{name}"] = None if table is None else _rows(table)
            rejected = res.lake.read_quarantine(name, dt)
            state[f"quarantine.{name}"] = None if rejected is None else _rows(rejected)
        ids = [r["artist_id"] for r in state["warehouse.artists"]]
        docs = res.serving.get_many(ids)
        state["serving"] = sorted(
            ({k: v for k, v in d.items() if k not in VOLATILE} for d in docs.values()), key=repr
        )
    return state
