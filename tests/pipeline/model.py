"""A small reference model of the current state, for tests that check the rules every path
keeps: the warehouse and the serving store hold the newest curated dt of the lake, each
current artist's neighbours are exactly its nearest over the whole current set (computed here
by brute force), and no lock is left behind."""

from __future__ import annotations

import fcntl
import os
from collections import defaultdict
from datetime import date
from typing import Any

import numpy as np

from tunelake.config import Settings
from tunelake.pipeline.resources import open_resources


def unique_names(settings: Settings) -> list[str]:
    """The catalog's artist names that no other artist shares (a shared one is ambiguous)."""
    from tunelake.sources.catalog.generator import generate_catalog

    names = generate_catalog(settings.catalog_seed, settings.catalog_artists).artists.names
    return [n for n in names if names.count(n) == 1]


def brute_force(vectors: dict[str, list[float]], k: int) -> dict[str, list[float]]:
    """Each artist's k smallest distances to the others, ascending (ids tie-break in the
    engine, so distances are what is compared)."""
    ids = sorted(vectors)
    matrix = np.array([vectors[i] for i in ids], dtype=float)
    distances = np.sqrt(((matrix[:, None, :] - matrix[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(distances, np.inf)
    return {
        artist: sorted(float(d) for d in np.sort(distances[row])[: min(k, len(ids) - 1)])
        for row, artist in enumerate(ids)
    }


def no_lock_held(settings: Settings) -> list[str]:
    """The lock files of the home some process still holds (none, after every run)."""
    held = []
    folder = settings.home / "locks"
    for path in sorted(folder.glob("*.lock")) if folder.is_dir() else []:
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(path.name)
        finally:
            os.close(fd)
    return held


def current_state(settings: Settings) -> dict[str, Any]:
    """What the stores hold for the lake's newest curated dt, and what they should hold."""
    with open_resources(settings) as res:
        newest: date | None = max(res.lake.partitions("artists"), default=None)
        assert newest is not None, "nothing curated yet"
        current = set(res.lake.read_partition("artists", newest)["artist_id"].to_pylist())
        vectors_table = res.lake.read_partition("artist_vectors", newest)
        vectors = dict(
            zip(
                vectors_table["artist_id"].to_pylist(),
                vectors_table["vector"].to_pylist(),
                strict=True,
            )
        )
        related = res.warehouse.read("related_artists").to_pylist()
        docs = res.serving.get_many(sorted(current))
    warehouse: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in related:
        if row["artist_id"] in current:
            warehouse[row["artist_id"]].append(row)
    return {
        "dt": newest,
        "current": current,
        "vectors": vectors,
        "expected": brute_force(vectors, settings.similarity_k) if len(vectors) > 1 else {},
        "warehouse": dict(warehouse),
        "serving": docs,
    }


def assert_current_state_holds(settings: Settings) -> dict[str, Any]:
    """serving = warehouse = the lake's newest curated dt; neighbours exact for the current
    set; no lock left. Returns the state for further checks."""
    state = current_state(settings)
    newest, current = state["dt"], state["current"]
    assert set(state["serving"]) == current, "a current artist has no serving document"
    for artist in current:
        doc = state["serving"][artist]
        assert doc["dt"] == newest.isoformat(), f"serving holds dt {doc['dt']} for {artist}"
        expected = state["expected"].get(artist, [])
        published = [r["distance"] for r in doc["related_artists"]]
        assert published == pytest_approx(expected), f"serving neighbours of {artist}"
        assert {r["artist_id"] for r in doc["related_artists"]} <= current
        rows = sorted(state["warehouse"].get(artist, []), key=lambda r: r["rank"])
        assert {r["dt"] for r in rows} <= {newest}, f"warehouse holds another dt for {artist}"
        assert [r["distance"] for r in rows] == pytest_approx(expected), (
            f"warehouse neighbours of {artist}"
        )
    assert no_lock_held(settings) == []
    return state


def pytest_approx(values: list[float]) -> Any:
    import pytest

    return pytest.approx(values, rel=1e-6, abs=1e-9)
