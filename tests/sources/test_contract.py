"""The contract every source passes: the built-in catalog server in both API profiles (a
real server in a child process, as a run starts it) and a dump as CSV and as Parquet.

Each resolves names and ids, records ambiguity instead of guessing, answers unknown ids with
not_found, and lands data that derives, from the raw zone alone, into rows that pass
validation against the ids the source declares.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunelake.config import load_settings
from tunelake.pipeline.progress import read_progress, record_source
from tunelake.sources.catalog.generator import generate_catalog
from tunelake.sources.derive import derive
from tunelake.sources.factory import open_source
from tunelake.sources.port import Source
from tunelake.storage.lake import open_lake
from tunelake.validate import contract, validate

DT = date(2026, 11, 26)
ARTISTS = 60
SEED = 42


@dataclass(frozen=True)
class Known:
    """What the test knows about a source's data."""

    name: str
    artist_id: str
    shared_name: str
    unknown_id: str


def _catalog_known() -> Known:
    catalog = generate_catalog(SEED, ARTISTS)
    names = catalog.artists.names
    count = Counter(names)
    a = next(i for i, n in enumerate(names) if count[n] == 1)
    shared = next(n for n in names if count[n] > 1)
    return Known(names[a], catalog.artist_id(a), shared, "0" * 22)


DUMP_ROWS = [
    {
        "track_id": f"trk{a}{t}",
        "track_name": f"Song {a}{t}",
        "artist_id": f"art{a}",
        "artist_name": {0: "Ann Lee", 1: "Twin Name", 2: "Twin Name"}.get(a, f"Artist {a}"),
        "track_genre": "['dance pop', 'pop']",
        "track_popularity": 10 * t,
        "danceability": 0.1 * t,
        "tempo": 90.0 + a,
    }
    for a in range(4)
    for t in range(3)
]
DUMP_KNOWN = Known("Ann Lee", "art3", "Twin Name", "art9")


def _csv(path: Path) -> Path:
    path = path / "tracks.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(DUMP_ROWS[0]))
        writer.writeheader()
        writer.writerows(DUMP_ROWS)
    return path


def _parquet(path: Path) -> Path:
    path = path / "tracks.parquet"
    pq.write_table(pa.Table.from_pylist(DUMP_ROWS), path)
    return path


def _catalog(profile: str) -> Callable[[Path], tuple[dict[str, object], Known]]:
    def make(_: Path) -> tuple[dict[str, object], Known]:
        options = {"catalog_artists": ARTISTS, "catalog_seed": SEED, "catalog_profile": profile}
        return {"source": "catalog", **options}, _catalog_known()

    return make


def _dump(write: Callable[[Path], Path]) -> Callable[[Path], tuple[dict[str, object], Known]]:
    def make(tmp: Path) -> tuple[dict[str, object], Known]:
        return {"source": f"file:{write(tmp)}"}, DUMP_KNOWN

    return make


SOURCES = {
    "catalog-extended": _catalog("extended"),
    "catalog-development": _catalog("development"),
    "dump-csv": _dump(_csv),
    "dump-parquet": _dump(_parquet),
}


@contextmanager
def _opened(tmp_path: Path, which: str) -> Iterator[tuple[Source, Known]]:
    overrides, known = SOURCES[which](tmp_path)
    settings = load_settings(home=tmp_path / "home", **overrides)
    with open_source(settings) as source:
        yield source, known


@pytest.fixture(params=sorted(SOURCES), scope="module")
def opened(request, tmp_path_factory) -> Iterator[tuple[Source, Known]]:
    with _opened(tmp_path_factory.mktemp(request.param), request.param) as pair:
        yield pair


def test_resolves_names_and_ids_and_records_what_it_cannot(opened):
    source, known = opened
    queries = [known.name, known.artist_id, known.shared_name, known.unknown_id, "Nobody At All"]
    outcome = {r.query: r for r in source.resolve(queries)}

    assert outcome[known.artist_id].status == "resolved"
    assert outcome[known.artist_id].artist_id == known.artist_id
    assert outcome[known.name].status == "resolved" and outcome[known.name].artist_id
    assert outcome[known.shared_name].status == "ambiguous"
    assert outcome[known.shared_name].artist_id is None
    assert "share this name" in (outcome[known.shared_name].detail or "")
    assert outcome[known.unknown_id].status == "not_found"
    assert outcome["Nobody At All"].status == "not_found"


def test_default_queries_resolve(opened):
    source, _ = opened
    defaults = source.default_queries()[:5]
    assert defaults
    assert all(r.status in ("resolved", "ambiguous") for r in source.resolve(defaults))


def test_fetch_land_derive_gives_valid_typed_rows_with_the_declared_ids(opened, tmp_path):
    source, known = opened
    [resolved] = source.resolve([known.name])
    ids = [known.artist_id, resolved.artist_id]
    lake = open_lake(str(tmp_path / "lake"))
    record_source(lake, DT, source.info)

    source.fetch(ids, set())
    assert source.land(lake, DT) > 0
    # derived the way the raw zone's recorded source says, not the open source
    records = derive(lake, DT, ids, read_progress(lake, DT).source or source.info)

    datasets = {
        "artists": records.artists,
        "tracks": records.tracks,
        "top_tracks": records.top_tracks,
        "audio_features": records.audio_features,
    }
    pattern = source.info.id_pattern
    for name, rows in datasets.items():
        result = validate(contract(name, id_pattern=pattern), rows)
        assert result.rejected.num_rows == 0, result.rejected.to_pylist()[:2]
        assert result.valid.num_rows > 0, name
        assert result.valid.schema == contract(name).dataset.schema
    artists = validate(contract("artists", id_pattern=pattern), records.artists).valid
    assert sorted(artists["artist_id"].to_pylist()) == sorted(set(ids))
    top = validate(contract("top_tracks", id_pattern=pattern), records.top_tracks).valid
    assert set(top["artist_id"].to_pylist()) == set(ids)
    if pattern is not None:
        every_id = [
            r[c] for rows in datasets.values() for r in rows for c in r if c.endswith("_id")
        ]
        assert all(re.fullmatch(pattern, i) for i in every_id if i is not None)
