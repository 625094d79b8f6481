"""The Spark engine gives the in-process engine's exact answer (needs the `spark` extra)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import spark_module
from tests.storage.lake.backends import new_lake
from tunelake.datasets import AUDIO_FEATURES, RELATED_ARTISTS, TOP_TRACKS
from tunelake.datasets import artist_vectors as artist_vectors_dataset
from tunelake.engines import vectors as in_process_vectors
from tunelake.engines.similarity import related_artists as in_process_related
from tunelake.errors import ConfigError
from tunelake.storage.lake import LakeError, open_lake

spark_engine = spark_module("tunelake.engines.spark")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DT = date(2026, 11, 26)
FEATURES = ("danceability", "energy", "tempo", "key")
#: The hash-block fallback with blocks of at most this many artists (several blocks here).
SMALL_BROADCAST = 70


def vectors_table(vectors: np.ndarray, seed: int) -> pa.Table:
    ids = [f"artist-{v:05d}" for v in np.random.default_rng(seed).permutation(len(vectors))]
    return pa.table(
        {
            "artist_id": pa.array(ids, pa.string()),
            "vector": pa.array(vectors.tolist(), pa.list_(pa.float64())),
        }
    )


def in_spark(spark: SparkSession, vectors: pa.Table, k: int, max_broadcast: int) -> pa.Table:
    frame = spark.createDataFrame(vectors)
    with spark_engine.related_artists(frame, k, max_broadcast) as related:
        return related.orderBy("artist_id", "rank").toArrow().cast(RELATED_ARTISTS.schema)


def in_process(vectors: pa.Table, k: int) -> pa.Table:
    return in_process_related(vectors, k).sort_by(
        [("artist_id", "ascending"), ("rank", "ascending")]
    )


BROADCASTS = [
    pytest.param(spark_engine.MAX_BROADCAST_ROWS, id="one-broadcast"),
    pytest.param(SMALL_BROADCAST, id="hash-blocks"),
]


@pytest.mark.parametrize("max_broadcast", BROADCASTS)
def test_random_vectors_equal_the_in_process_engine(
    spark: SparkSession, max_broadcast: int
) -> None:
    vectors = vectors_table(np.random.default_rng(0).random((300, 8)), seed=1)
    got = in_spark(spark, vectors, 10, max_broadcast)
    assert got.num_rows == 300 * 10
    # Same neighbours at the same ranks, and the same distances to the bit.
    assert got.equals(in_process(vectors, 10))


@pytest.mark.parametrize("max_broadcast", BROADCASTS)
def test_ties_and_duplicates_equal_the_in_process_engine(
    spark: SparkSession, max_broadcast: int
) -> None:
    # Three values per axis: many exact ties and duplicate vectors, ordered by id.
    grid = np.random.default_rng(2).integers(0, 3, (150, 3)) * 0.1
    vectors = vectors_table(grid, seed=3)
    got = in_spark(spark, vectors, 7, max_broadcast)
    assert got.equals(in_process(vectors, 7))
    assert (got.column("distance").to_numpy() == 0).sum() > 0  # duplicates are neighbours


def test_small_inputs_and_bad_k(spark: SparkSession) -> None:
    for n in (0, 1):
        assert in_spark(spark, vectors_table(np.zeros((n, 2)), seed=4), 3, 10).num_rows == 0
    three = vectors_table(np.eye(3), seed=5)  # N <= k: each artist gets the N - 1 others
    for max_broadcast in (10, 2):
        assert in_spark(spark, three, 5, max_broadcast).equals(in_process(three, 5))
    with (
        pytest.raises(ValueError, match="positive integer"),
        spark_engine.related_artists(spark.createDataFrame(three), 0),
    ):
        pass


@pytest.mark.parametrize("max_broadcast", BROADCASTS)
def test_the_search_never_pairs_every_artist(
    spark: SparkSession, max_broadcast: int, capsys: pytest.CaptureFixture[str]
) -> None:
    vectors = spark.createDataFrame(vectors_table(np.random.default_rng(6).random((200, 4)), 7))
    with spark_engine.related_artists(vectors, 5, max_broadcast) as related:
        related.explain(mode="extended")
    plan = capsys.readouterr().out
    assert "MapInArrow" in plan
    for pairs in ("CartesianProduct", "NestedLoopJoin", "crossJoin", "Join"):
        assert pairs not in plan


def curated_inputs(seed: int = 8) -> tuple[pa.Table, pa.Table]:
    """Top tracks and audio features with what the vectors must handle: null and NaN values,
    a track without features, an artist whose tracks have none, two artists with the same
    tracks, a feature every track shares (max = min), repeated values."""
    rng = np.random.default_rng(seed)
    tracks = [f"t{i:03d}" for i in range(120)]
    energy: list[float | None] = rng.random(120).tolist()
    energy[3], energy[7] = None, float("nan")
    columns: dict[str, list[object]] = {f.name: [None] * 120 for f in AUDIO_FEATURES.schema}
    columns |= {
        "track_id": tracks,
        "danceability": (rng.integers(0, 4, 120) / 4).tolist(),  # repeated values
        "energy": energy,
        "tempo": rng.uniform(60, 200, 120).tolist(),
        "key": [5] * 120,  # max = min
        "source": ["spotify"] * 120,
    }
    audio = pa.Table.from_pydict(columns, AUDIO_FEATURES.schema).slice(0, 119)  # t119: none
    rows = []
    for a in range(40):
        picks = rng.choice(110, 6, replace=False)
        rows += [(f"a{a:02d}", tracks[p], r + 1) for r, p in enumerate(picks)]
    rows += [("twin", t, r) for artist, t, r in rows if artist == "a05"]  # a05's duplicate
    rows += [("silent", "t119", 1)]  # no features on any track: no vector
    names = TOP_TRACKS.schema.names
    top = pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows], TOP_TRACKS.schema)
    return top, audio


def test_vectors_equal_the_in_process_engine_to_the_bit(spark: SparkSession) -> None:
    top, audio = curated_inputs()
    want = in_process_vectors.artist_vectors(top, audio, FEATURES)
    schema = artist_vectors_dataset(FEATURES).schema
    with spark_engine.artist_vectors(
        spark.createDataFrame(top), spark.createDataFrame(audio), FEATURES
    ) as frame:
        got = frame.orderBy("artist_id").select(*schema.names).toArrow().cast(schema)
    assert got.equals(want)
    assert "silent" not in got.column("artist_id").to_pylist()
    assert {tuple(v[-1:]) for v in got.column("vector").to_pylist()} == {(0.0,)}  # key: max=min


def test_transform_reads_and_writes_the_lake(spark: SparkSession, tmp_path: Path) -> None:
    lake = open_lake(str(tmp_path / "lake"))
    top, audio = curated_inputs(seed=9)
    with pytest.raises(spark_engine.MissingPartition, match="top_tracks"):
        spark_engine.transform(spark, lake, DT, FEATURES, 10)
    lake.write_partition("top_tracks", DT, top)
    lake.write_partition("audio_features", DT, audio)

    vectors, related = spark_engine.transform(spark, lake, DT, FEATURES, 10)

    want_vectors = in_process_vectors.artist_vectors(top, audio, FEATURES)
    want_related = in_process_related(want_vectors, 10)
    assert vectors.equals(want_vectors) and related.equals(want_related)
    # Spark's files hold each file's rows in key order, not the whole partition's.
    for name, want in (("artist_vectors", want_vectors), ("related_artists", want_related)):
        got = lake.read_partition(name, DT)
        assert got is not None and got.sort_by([(c, "ascending") for c in KEYS[name]]).equals(want)


KEYS = {"artist_vectors": ("artist_id",), "related_artists": ("artist_id", "rank")}


def spark_written(urls: list[str]) -> list[str]:
    """urls, each checked to be a Parquet file Spark wrote (pyiceberg's writer is Arrow's)."""
    for url in urls:
        metadata = pq.read_metadata(url)
        assert b"org.apache.spark.version" in (metadata.metadata or {})
        assert "parquet-mr" in metadata.created_by
    return urls


def test_each_run_commits_the_files_spark_wrote_as_one_snapshot_per_table(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = open_lake(str(tmp_path / "lake"))
    top, audio = curated_inputs(seed=10)
    lake.write_partition("top_tracks", DT, top)
    lake.write_partition("audio_features", DT, audio)
    runs: list[dict[str, list[str]]] = []
    for run in (1, 2):
        vectors, related = spark_engine.transform(spark, lake, DT, FEATURES, 5)
        returned = {"artist_vectors": vectors, "related_artists": related}
        files = {}
        for name, rows in returned.items():
            table = lake.load(name)
            assert table is not None and len(table.snapshots()) == run
            snapshot = table.current_snapshot()
            assert snapshot is not None and snapshot.summary is not None
            assert snapshot.summary.operation.value == ("append" if run == 1 else "overwrite")
            (dt,) = lake.files(name)  # the dt's files only
            files[name] = spark_written(lake.files(name)[dt])
            # Only the committed files are left where Spark wrote (no _SUCCESS, no .crc).
            (folder,) = {Path(url).parent for url in files[name]}
            assert sorted(p.as_posix() for p in folder.iterdir()) == sorted(files[name])
            got = lake.read_partition(name, DT)  # one copy of the rows, however often run
            assert got is not None and got.num_rows == rows.num_rows > 0
        runs.append(files)
    for name in KEYS:
        assert not set(runs[0][name]) & set(runs[1][name])


def test_a_commit_that_loses_a_race_is_redone_on_the_fresh_table(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = open_lake(str(tmp_path / "lake"))
    top, audio = curated_inputs(seed=11)
    lake.write_partition("top_tracks", DT, top)
    lake.write_partition("audio_features", DT, audio)
    _, related = spark_engine.transform(spark, lake, DT, FEATURES, 5)
    planned = spark_engine.parquet_file_to_data_file
    raced = []

    def racing(io: object, metadata: object, url: str) -> object:
        # Another writer replaces the dt after this commit planned which files it drops.
        if "/related_artists/" in url and not raced:
            raced.append(lake.write_partition("related_artists", DT, related.slice(0, 3)))
        return planned(io, metadata, url)

    monkeypatch.setattr(spark_engine, "parquet_file_to_data_file", racing)
    _, related = spark_engine.transform(spark, lake, DT, FEATURES, 5)
    assert raced
    table = lake.load("related_artists")
    # The first run, the other writer (delete, append), and this run's redone commit: its
    # files replace the other writer's, which a blind commit would have kept beside them.
    assert table is not None and len(table.snapshots()) == 4
    got = lake.read_partition("related_artists", DT)
    assert got is not None
    assert got.sort_by([(c, "ascending") for c in KEYS["related_artists"]]).equals(related)
    spark_written(lake.files("related_artists")[DT])


def test_rows_with_nulls_in_required_columns_are_refused() -> None:
    batch = pa.record_batch({"artist_id": ["a", None], "energy": [None, 0.5]})
    with pytest.raises(LakeError, match=r"\['artist_id'\] have nulls"):
        list(spark_engine._no_nulls(["artist_id"], iter([batch])))
    assert list(spark_engine._no_nulls(["energy"], iter([batch.slice(1)]))) == [batch.slice(1)]


def test_s3_files_are_read_through_s3a() -> None:
    assert spark_engine.spark_path("s3://bucket/lake/top_tracks/x.parquet") == (
        "s3a://bucket/lake/top_tracks/x.parquet"
    )
    assert spark_engine.spark_path("/data/lake/x.parquet") == "/data/lake/x.parquet"


@pytest.mark.services
def test_an_s3_lake_without_spark_s_s3_connector_is_refused_with_the_fix(
    spark: SparkSession, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # PyPI's pyspark has no hadoop-aws jar, and Maven is out of reach here: this is what a
    # user without it sees, before any Java trace.
    lake = new_lake("s3", request, tmp_path)
    fix = r"on S3.*--packages org\.apache\.hadoop:hadoop-aws:\d+\.\d+\.\d+"
    with pytest.raises(ConfigError, match=fix):
        spark_engine.transform(spark, lake, DT, FEATURES, 5)
    with pytest.raises(ConfigError, match=fix):
        spark_module("tunelake.engines.spark_sql").SparkSqlEngine(lake, spark)


def test_a_run_with_a_new_feature_adds_its_column_to_the_table(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = open_lake(str(tmp_path / "lake"))
    top, audio = curated_inputs(seed=12)
    before, after = DT - timedelta(days=1), DT
    for dt in (before, after):
        lake.write_partition("top_tracks", dt, top)
        lake.write_partition("audio_features", dt, audio)
    spark_engine.transform(spark, lake, before, FEATURES[:3], 5)

    vectors, _ = spark_engine.transform(spark, lake, after, FEATURES, 5)  # adds "key"

    assert vectors.equals(in_process_vectors.artist_vectors(top, audio, FEATURES))
    table = lake.load("artist_vectors")
    assert table is not None and table.schema().column_names[-2:] == ["dt", "key"]
    new = lake.read_partition("artist_vectors", after)
    old = lake.read_partition("artist_vectors", before)
    assert new is not None and old is not None
    assert new.sort_by("artist_id").select(vectors.column_names).equals(vectors)
    assert old.column("key").null_count == old.num_rows > 0  # not in the older files
    assert len(old.column("vector")[0]) == 3 and len(new.column("vector")[0]) == 4
