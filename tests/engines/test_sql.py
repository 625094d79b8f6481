"""DuckDB views over the lake: the course's Athena queries, local and S3 alike."""

from __future__ import annotations

import _thread
import random
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.storage.lake.backends import new_lake
from tunelake.datasets import ARTISTS, AUDIO_FEATURES, TOP_TRACKS
from tunelake.engines.sql import SqlEngine, SqlError
from tunelake.storage.lake import IcebergLake

pytestmark = pytest.mark.timeout(120)

DTS = [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)]
ARTIST_IDS = [f"artist{i}" for i in range(6)]
TRACK_IDS = [f"track{i:02d}" for i in range(18)]
FULL_WIDTH_BLUR = "\uff22\uff4c\uff55\uff52"  # "Blur" as East Asian keyboards type it

PER_ARTIST_AVERAGES = """
    SELECT t.artist_id, AVG(a.danceability) AS danceability, AVG(a.energy) AS energy,
           AVG(a.tempo) AS tempo
    FROM top_tracks t JOIN audio_features a ON t.track_id = a.track_id AND t.dt = a.dt
    WHERE t.dt = (SELECT MAX(dt) FROM top_tracks) GROUP BY t.artist_id
"""
MIN_MAX_PER_PARTITION = """
    SELECT dt, MIN(danceability), MAX(danceability), MIN(tempo), MAX(tempo)
    FROM audio_features GROUP BY dt
"""


def build_tables() -> dict[str, dict[date, pa.Table]]:
    """Top tracks and audio features for three days (some features missing), artists for one."""
    rng = random.Random(7)
    top: dict[date, pa.Table] = {}
    features: dict[date, pa.Table] = {}
    for dt in DTS:
        rows = [
            {"artist_id": artist, "track_id": track, "rank": rank}
            for artist in ARTIST_IDS
            for rank, track in enumerate(rng.sample(TRACK_IDS, 3), start=1)
        ]
        top[dt] = pa.Table.from_pylist(rows, TOP_TRACKS.schema)
        rows = []
        for track in rng.sample(TRACK_IDS, 15):  # some top tracks have no features
            row = {f.name: None for f in AUDIO_FEATURES.schema}
            row |= {"track_id": track, "source": "spotify", "key": rng.randrange(12)}
            row |= {"danceability": rng.random(), "energy": rng.random()}
            row["tempo"] = None if rng.random() < 0.2 else rng.uniform(60, 200)
            rows.append(row)
        features[dt] = pa.Table.from_pylist(rows, AUDIO_FEATURES.schema)
    artists = pa.Table.from_pylist(
        [{"artist_id": a, "name": f"{FULL_WIDTH_BLUR} {a} — Sigur Rós"} for a in ARTIST_IDS],
        ARTISTS.schema,
    )
    return {"top_tracks": top, "audio_features": features, "artists": {DTS[-1]: artists}}


TABLES = build_tables()


def fill(lake: IcebergLake) -> IcebergLake:
    for dataset, partitions in TABLES.items():
        for dt, table in partitions.items():
            lake.write_partition(dataset, dt, table)
    rejected = TABLES["top_tracks"][DTS[0]].slice(0, 2)
    lake.quarantine("top_tracks", DTS[0], rejected.append_column("reason", pa.array(["x", "y"])))
    return lake


@pytest.fixture
def local_lake(tmp_path: Path, request: pytest.FixtureRequest) -> IcebergLake:
    return fill(new_lake("local", request, tmp_path))


@pytest.fixture
def local_engine(local_lake: IcebergLake) -> Iterator[SqlEngine]:
    engine = SqlEngine(local_lake)
    yield engine
    engine.close()


@pytest.fixture
def s3_engine(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SqlEngine]:
    engine = SqlEngine(fill(new_lake("s3", request, tmp_path)))
    yield engine
    engine.close()


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in table.to_pylist())


def mean_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def expected_per_artist_averages() -> dict[str, tuple[float | None, ...]]:
    latest = max(DTS)
    features = {r["track_id"]: r for r in TABLES["audio_features"][latest].to_pylist()}
    picked: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for top in TABLES["top_tracks"][latest].to_pylist():
        if top["track_id"] in features:  # the inner join
            picked[top["artist_id"]].append(features[top["track_id"]])
    return {
        artist: tuple(mean_or_none([f[c] for f in fs]) for c in ("danceability", "energy", "tempo"))
        for artist, fs in picked.items()
    }


def test_views_are_the_datasets_with_dt_a_date(local_engine: SqlEngine) -> None:
    assert local_engine.views() == [
        "artists",
        "audio_features",
        "quarantine_top_tracks",
        "top_tracks",
    ]
    types = local_engine.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND column_name IN ('dt', 'rank')",
        ["top_tracks"],
    )
    # Iceberg has no 16-bit integer: rank is stored (and seen by every engine) as INTEGER
    assert rows(types) == [("dt", "DATE"), ("rank", "INTEGER")]
    got = local_engine.query("SELECT dt, count(*) FROM top_tracks GROUP BY dt")
    assert rows(got) == [(dt, len(ARTIST_IDS) * 3) for dt in DTS]
    reasons = local_engine.query("SELECT reason, dt FROM quarantine_top_tracks")
    assert rows(reasons) == [("x", DTS[0]), ("y", DTS[0])]


def test_per_artist_averages_on_the_latest_dt(local_engine: SqlEngine) -> None:
    got = {r[0]: r[1:] for r in rows(local_engine.query(PER_ARTIST_AVERAGES))}
    expected = expected_per_artist_averages()
    assert got.keys() == expected.keys()
    for artist, values in expected.items():
        assert got[artist] == pytest.approx(values, rel=1e-12), artist


def test_min_max_of_features_per_partition(local_engine: SqlEngine) -> None:
    expected = []
    for dt, table in TABLES["audio_features"].items():
        dance = [v for v in table.column("danceability").to_pylist() if v is not None]
        tempo = [v for v in table.column("tempo").to_pylist() if v is not None]
        expected.append((dt, min(dance), max(dance), min(tempo), max(tempo)))
    assert rows(local_engine.query(MIN_MAX_PER_PARTITION)) == expected


def test_parameters_are_bound_not_spliced(local_engine: SqlEngine) -> None:
    name = f"{FULL_WIDTH_BLUR} {ARTIST_IDS[2]} — Sigur Rós"
    got = local_engine.query(
        "SELECT artist_id FROM artists WHERE name = $1 AND dt = $2", [name, DTS[-1]]
    )
    assert got.column("artist_id").to_pylist() == [ARTIST_IDS[2]]
    assert (
        local_engine.query("SELECT * FROM artists WHERE name = ?", ["x' OR '1'='1"]).num_rows == 0
    )


def test_the_views_read_one_snapshot_until_refreshed(
    local_lake: IcebergLake, local_engine: SqlEngine
) -> None:
    local_lake.write_partition("top_tracks", DTS[-1], TABLES["top_tracks"][DTS[-1]].slice(0, 1))
    count = "SELECT count(*) FROM top_tracks WHERE dt = ?"
    assert local_engine.query(count, [DTS[-1]]).column(0).to_pylist() == [18]
    local_engine.refresh()
    assert local_engine.query(count, [DTS[-1]]).column(0).to_pylist() == [1]
    neighbours = {"artist_id": ["a"], "related_artist_id": ["b"], "rank": [1], "distance": [0.5]}
    local_lake.write_partition("related_artists", DTS[-1], pa.table(neighbours))
    local_lake.quarantine("top_tracks", DTS[0], pa.table({"reason": pa.array([], pa.string())}))
    local_engine.refresh()
    assert local_engine.views() == ["artists", "audio_features", "related_artists", "top_tracks"]


@pytest.mark.parametrize(
    ("sql", "params", "message"),
    [
        ("SELEC 1", None, "Parser Error"),
        ("SELECT * FROM related_artists", None, "related_artists does not exist"),
        ("SELECT * FROM artists WHERE artist_id = ?", [], "param"),
        ("SELECT 1 / 'a'", None, "Binder Error|Conversion Error"),
    ],
)
def test_a_bad_query_raises_sql_error(
    local_engine: SqlEngine, sql: str, params: list[Any] | None, message: str
) -> None:
    with pytest.raises(SqlError, match=message):
        local_engine.query(sql, params)


@pytest.mark.services
def test_an_s3_lake_gives_the_same_answers(local_engine: SqlEngine, s3_engine: SqlEngine) -> None:
    assert s3_engine.views() == local_engine.views()
    for sql in (
        PER_ARTIST_AVERAGES,
        MIN_MAX_PER_PARTITION,
        "SELECT * FROM artists",
        "SELECT * FROM top_tracks",
        "SELECT * FROM quarantine_top_tracks",
    ):
        local, s3 = local_engine.query(sql), s3_engine.query(sql)
        assert local.num_rows > 0, sql
        assert local.schema == s3.schema and rows(local) == rows(s3), sql


# read-only ---------------------------------------------------------------------------------


def first_file(lake: IcebergLake, dataset: str) -> str:
    files = lake.files(dataset)
    return files[min(files)][0]


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT * FROM artists LIMIT 1) TO '{lake_file}' (FORMAT parquet)",
        "EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{lake_file}' (FORMAT parquet)",
        "ATTACH '{tmp}/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD parquet",
        "EXPORT DATABASE '{tmp}/export'",
        "CREATE TABLE scratch AS SELECT 1",
        "SET enable_external_access = true",
        "CALL pragma_version()",
        "SELECT 1; COPY (SELECT 1) TO '{tmp}/x.csv'",
    ],
)
def test_no_statement_writes_or_changes_anything(
    local_lake: IcebergLake, local_engine: SqlEngine, tmp_path: Path, statement: str
) -> None:
    lake_file = first_file(local_lake, "artists")
    before = Path(lake_file).read_bytes()
    sql = statement.format(lake_file=lake_file, tmp=tmp_path)
    with pytest.raises(SqlError, match="read-only: only SELECT queries run"):
        local_engine.query(sql)
    assert Path(lake_file).read_bytes() == before
    assert not any(p.name in ("other.duckdb", "export", "x.csv") for p in tmp_path.iterdir())
    assert local_engine.query("SELECT count(*) FROM artists").column(0).to_pylist() == [6]


def test_select_pivot_and_explain_still_work(local_engine: SqlEngine) -> None:
    assert local_engine.query("EXPLAIN SELECT * FROM top_tracks").num_rows > 0
    assert local_engine.query("DESCRIBE artists").num_rows > 0
    # DuckDB parses a PIVOT without an IN list as a MULTI statement: it only reads.
    pivot = local_engine.query("PIVOT top_tracks ON dt USING count(*) GROUP BY artist_id")
    assert pivot.num_rows == len(ARTIST_IDS) and pivot.num_columns == 1 + len(DTS)
    nested = local_engine.query(
        "SELECT * FROM (PIVOT top_tracks ON rank USING count(*) GROUP BY dt) p"
    )
    assert nested.num_rows == len(DTS)


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (PIVOT artists ON dt USING count(*)) TO '{lake_file}' (FORMAT parquet)",
        "WITH p AS (PIVOT artists ON dt USING count(*)) INSERT INTO artists SELECT * FROM p",
        "CREATE TABLE scratch AS PIVOT artists ON dt USING count(*)",
        "EXPLAIN ANALYZE COPY (PIVOT artists ON dt USING count(*)) TO '{lake_file}'",
    ],
)
def test_a_pivot_inside_a_write_is_refused(
    local_lake: IcebergLake, local_engine: SqlEngine, statement: str
) -> None:
    lake_file = first_file(local_lake, "artists")
    before = Path(lake_file).read_bytes()
    with pytest.raises(SqlError, match="read-only: only SELECT queries run"):
        local_engine.query(statement.format(lake_file=lake_file))
    assert Path(lake_file).read_bytes() == before


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT content FROM read_text('/proc/self/environ')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv('{tmp}/ids.csv')",
        "SELECT * FROM read_parquet('{lake}/../outside.parquet')",
    ],
)
def test_no_file_outside_the_lake_is_read(
    local_lake: IcebergLake, local_engine: SqlEngine, tmp_path: Path, sql: str
) -> None:
    (tmp_path / "ids.csv").write_text("artist_id\nartist1\n", encoding="utf-8")
    with pytest.raises(SqlError, match="reads the lake's views only") as refused:
        local_engine.query(sql.format(tmp=tmp_path, lake=local_lake.url))
    assert len(str(refused.value).splitlines()) == 1


def test_the_lock_cannot_be_undone(local_engine: SqlEngine) -> None:
    for undo in ("SET enable_external_access = true", "RESET allowed_directories"):
        with pytest.raises(SqlError, match="read-only"):
            local_engine.query(undo)
    # Behind the statement check, DuckDB's own lock holds too.
    with pytest.raises(duckdb.Error, match="locked"):
        local_engine._con.execute("SET enable_external_access = true")


def test_one_statement_at_a_time(local_engine: SqlEngine) -> None:
    with pytest.raises(SqlError, match="one statement at a time: the SQL holds 2 statements"):
        local_engine.query("SELECT 1; SELECT 2")
    assert local_engine.query("SELECT 1;").column(0).to_pylist() == [1]


def test_a_query_is_interrupted_by_ctrl_c(local_engine: SqlEngine) -> None:
    """KeyboardInterrupt in the waiting thread interrupts DuckDB, which stops at once."""
    forever = "SELECT count(*) FROM range(1000000000000) a, range(1000000) b"

    def interrupt_soon() -> None:
        time.sleep(0.5)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_soon).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        local_engine.query(forever)
    assert time.monotonic() - started < 30
    assert local_engine.query("SELECT 42").column(0).to_pylist() == [42]


# what cannot be read is left out, by name --------------------------------------------------


def test_a_corrupt_data_file_leaves_out_only_its_table(local_lake: IcebergLake) -> None:
    broken = first_file(local_lake, "artists")
    Path(broken).write_bytes(b"not parquet at all")
    engine = SqlEngine(local_lake)
    assert "artists" not in engine.views() and "top_tracks" in engine.views()
    [problem] = engine.problems
    assert problem.startswith("artists left out") and broken in problem
    got = engine.query("SELECT count(*) FROM top_tracks")
    assert got.column(0).to_pylist() == [len(ARTIST_IDS) * 3 * len(DTS)]
    left_out = rf"(?s)artists does not exist.*left out: cannot read {re.escape(broken)}"
    with pytest.raises(SqlError, match=left_out):
        engine.query("SELECT count(*) FROM artists")


def test_a_deleted_metadata_file_is_named(local_lake: IcebergLake) -> None:
    table = local_lake.load("audio_features")
    assert table is not None
    metadata = table.metadata_location.removeprefix("file://")
    Path(metadata).unlink()
    engine = SqlEngine(local_lake)
    assert "audio_features" not in engine.views()
    [problem] = engine.problems
    assert problem.startswith("audio_features left out") and metadata in problem
    assert engine.query("SELECT count(*) FROM artists").column(0).to_pylist() == [6]


def test_a_deleted_manifest_list_is_named(local_lake: IcebergLake) -> None:
    table = local_lake.load("top_tracks")
    assert table is not None and table.current_snapshot() is not None
    manifest_list = table.current_snapshot().manifest_list.removeprefix("file://")  # type: ignore[union-attr]
    Path(manifest_list).unlink()
    engine = SqlEngine(local_lake)
    assert "top_tracks" not in engine.views()
    assert any(p.startswith("top_tracks left out") and manifest_list in p for p in engine.problems)
    assert engine.query("SELECT count(*) FROM artists").column(0).to_pylist() == [6]


# time travel -------------------------------------------------------------------------------


def test_as_of_queries_the_lake_as_it_was_before_a_backfill(local_lake: IcebergLake) -> None:
    before = datetime.now(UTC)
    count = "SELECT dt, count(*) FROM top_tracks GROUP BY dt"
    original = rows(SqlEngine(local_lake).query(count))
    local_lake.write_partition("top_tracks", DTS[0], TABLES["top_tracks"][DTS[0]].slice(0, 2))
    now = SqlEngine(local_lake)
    then = SqlEngine(local_lake, as_of=before)
    assert rows(now.query(count))[0] == (DTS[0], 2)
    assert rows(then.query(count)) == original
    assert rows(then.query("SELECT * FROM top_tracks WHERE dt = ?", [DTS[0]])) == sorted(
        (*r.values(), DTS[0]) for r in TABLES["top_tracks"][DTS[0]].to_pylist()
    )

    table = local_lake.load("top_tracks")
    assert table is not None
    first = table.snapshots()[0]
    by_id = SqlEngine(local_lake, as_of=first.snapshot_id)
    assert by_id.views() == ["top_tracks"]  # only the first table existed then
    assert rows(by_id.query(count)) == [(DTS[0], 18)]
    younger = (
        "(?s)artists does not exist.*artists left out: it has no snapshot at or before --as-of"
    )
    with pytest.raises(SqlError, match=younger):
        by_id.query("SELECT count(*) FROM artists")
    with pytest.raises(SqlError, match="no table of the lake has a snapshot 7"):
        SqlEngine(local_lake, as_of=7)
