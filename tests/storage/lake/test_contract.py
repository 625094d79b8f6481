"""The lake contract, run on a local folder and on S3 (SeaweedFS): see conftest/backends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tunelake.datasets import CURATED, TOP_TRACKS
from tunelake.storage.lake import LakeError, ParquetLake
from tunelake.storage.lake.partitions import MANIFEST
from tunelake.storage.lake.store import Store

pytestmark = pytest.mark.timeout(120)

DT = date(2026, 11, 26)
# accents, emoji, CJK, full-width letters ("Blur"), quotes
UNICODE = [
    "Beyoncé",
    "Sigur Rós 🎵",
    "東京事変",
    "\uff22\uff4c\uff55\uff52",
    "Mötley Crüe",
    'it\'s "quoted"',
]


def _values(type_: pa.DataType, rows: int, seed: int) -> list[Any]:
    if pa.types.is_string(type_):
        return [f"{UNICODE[(i + seed) % len(UNICODE)]}-{seed}-{i}" for i in range(rows)]
    if pa.types.is_integer(type_):
        return [seed * 100 + i for i in range(rows)]
    if pa.types.is_floating(type_):
        return [seed + i / 8 for i in range(rows)]
    if pa.types.is_boolean(type_):
        return [i % 2 == 0 for i in range(rows)]
    if pa.types.is_list(type_):
        items = _values(type_.value_type, rows + 1, seed)
        # an empty list, a null item, and ordinary ones
        return [[] if i == 0 else [items[i], None, items[i + 1]] for i in range(rows)]
    raise AssertionError(f"no sample values for {type_}")


def sample(schema: pa.Schema, rows: int = 4, seed: int = 0) -> pa.Table:
    """Rows with unicode strings and, in every nullable column, a null."""
    columns = {}
    for field in schema:
        values = _values(field.type, rows, seed)
        if field.nullable:
            values[1] = None
        columns[field.name] = pa.array(values, field.type)
    return pa.table(columns, schema=schema)


def top_tracks(seed: int, rows: int = 5) -> pa.Table:
    return sample(TOP_TRACKS.schema, rows, seed)


def version_names(lake: ParquetLake, dataset: str, dt: date) -> list[str]:
    folder = lake.store.join(dataset, f"dt={dt.isoformat()}")
    return [n for n in lake.store.names(folder) if n.startswith("_v")]


def file_exists(lake: ParquetLake, url: str) -> bool:
    return bool(lake.store.fs.exists(url.removeprefix("s3://")))


# round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", sorted(CURATED))
def test_every_dataset_round_trips_with_unicode_and_nulls(lake: ParquetLake, dataset: str) -> None:
    table = sample(CURATED[dataset].schema)
    files = lake.write_partition(dataset, DT, table)
    assert len(files) == 1 and files[0].startswith(lake.url) and files[0].endswith(".parquet")
    got = lake.read_partition(dataset, DT)
    assert got is not None
    assert got.schema.equals(CURATED[dataset].schema)
    assert got.equals(table)


def test_columns_take_the_declared_types(lake: ParquetLake) -> None:
    # a producer that made rank an int64: the lake stores the declared int16
    table = pa.table({"artist_id": ["a"], "track_id": ["t"], "rank": pa.array([1], pa.int64())})
    lake.write_partition("top_tracks", DT, table)
    got = lake.read_partition("top_tracks", DT)
    assert got is not None and got.schema.field("rank").type == pa.int16()


def test_a_dataset_of_its_own_keeps_its_schema(lake: ParquetLake) -> None:
    table = pa.table({"k": pa.array([1, 2], pa.int8()), "v": ["é", None]})
    lake.write_partition("scratch_notes", DT, table)
    assert lake.read_partition("scratch_notes", DT) == table
    assert lake.datasets() == ["scratch_notes"]


def test_unwritten_partition_reads_none(lake: ParquetLake) -> None:
    assert lake.read_partition("artists", DT) is None
    assert lake.partitions("artists") == []
    assert lake.files("artists") == {}


def test_an_empty_table_commits_an_empty_partition_with_its_schema(lake: ParquetLake) -> None:
    empty = TOP_TRACKS.schema.empty_table()
    lake.write_partition("top_tracks", DT, top_tracks(1))
    lake.write_partition("top_tracks", DT, empty)
    got = lake.read_partition("top_tracks", DT)
    assert got is not None and got.num_rows == 0 and got.schema.equals(TOP_TRACKS.schema)
    assert lake.partitions("top_tracks") == [DT]


def test_read_dataset_adds_dt_and_filters_partitions(lake: ParquetLake) -> None:
    days = [DT - timedelta(days=2), DT - timedelta(days=1), DT]
    for seed, day in enumerate(days):
        lake.write_partition("top_tracks", day, top_tracks(seed, rows=seed + 1))
    every = lake.read_dataset("top_tracks")
    assert every.schema.field("dt").type == pa.date32()
    assert sorted(every.column("dt").to_pylist()) == [days[0]] + [days[1]] * 2 + [DT] * 3
    some = lake.read_dataset("top_tracks", [days[0], DT, date(2000, 1, 1)])
    assert sorted(set(some.column("dt").to_pylist())) == [days[0], DT]
    latest = some.filter(pc.equal(some["dt"], pa.scalar(DT, pa.date32())))
    assert latest.drop_columns("dt") == top_tracks(2, rows=3)


def test_read_dataset_of_nothing_is_empty_with_the_schema(lake: ParquetLake) -> None:
    got = lake.read_dataset("audio_features")
    assert got.num_rows == 0
    assert got.schema.names == [*CURATED["audio_features"].schema.names, "dt"]


def test_partitions_are_listed_ascending_per_dataset(lake: ParquetLake) -> None:
    days = [date(2026, 3, 1), date(2025, 12, 31), date(2026, 1, 15)]
    for day in days:
        lake.write_partition("top_tracks", day, top_tracks(0))
    lake.write_partition("artists", DT, sample(CURATED["artists"].schema))
    assert lake.partitions("top_tracks") == sorted(days)
    assert lake.partitions("artists") == [DT]
    assert list(lake.files("top_tracks")) == sorted(days)
    assert lake.datasets() == ["artists", "top_tracks"]


# atomic overwrite ----------------------------------------------------------------------------


def test_overwrite_replaces_the_partition_and_deletes_the_old_files(lake: ParquetLake) -> None:
    old_files = lake.write_partition("top_tracks", DT, top_tracks(1, rows=7))
    new_files = lake.write_partition("top_tracks", DT, top_tracks(2, rows=3))
    assert lake.read_partition("top_tracks", DT) == top_tracks(2, rows=3)
    assert lake.files("top_tracks") == {DT: new_files}
    assert not any(file_exists(lake, f) for f in old_files)
    assert all(file_exists(lake, f) for f in new_files)
    assert len(version_names(lake, "top_tracks", DT)) == 1


def test_a_reader_never_sees_a_mix_of_versions(lake: ParquetLake) -> None:
    versions = [top_tracks(seed, rows=20 + seed) for seed in range(3)]
    lake.write_partition("top_tracks", DT, versions[0])
    rounds = 30 if lake.store.is_local else 12  # an S3 write takes ~10 requests
    done = threading.Event()

    def overwrite() -> None:
        try:
            for i in range(rounds):
                lake.write_partition("top_tracks", DT, versions[i % len(versions)])
        finally:
            done.set()

    writer = threading.Thread(target=overwrite)
    writer.start()
    reads = 0
    while not done.is_set() or reads == 0:
        got = lake.read_partition("top_tracks", DT)
        assert got is not None and any(got == v for v in versions)
        reads += 1
    writer.join()
    assert lake.read_partition("top_tracks", DT) == versions[(rounds - 1) % len(versions)]


def test_a_crashed_write_is_invisible_and_cleaned_later(
    lake: ParquetLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.write_partition("top_tracks", DT, top_tracks(1))
    committed = lake.files("top_tracks")

    def crash(self: Store, path: str, data: bytes) -> None:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "put", crash)  # the manifest switch: the new files are written
        with pytest.raises(RuntimeError, match="power cut"):
            lake.write_partition("top_tracks", DT, top_tracks(2))
    assert len(version_names(lake, "top_tracks", DT)) == 2
    assert lake.read_partition("top_tracks", DT) == top_tracks(1)
    assert lake.files("top_tracks") == committed

    # A young leftover may be a concurrent writer's work in progress: the next write keeps it.
    lake.write_partition("top_tracks", DT, top_tracks(3))
    assert len(version_names(lake, "top_tracks", DT)) == 2
    # Once older than the grace, the next write deletes it.
    impatient = ParquetLake(lake.store, orphan_grace=timedelta(0))
    files = impatient.write_partition("top_tracks", DT, top_tracks(4))
    names = version_names(lake, "top_tracks", DT)
    assert len(names) == 1 and names[0] in files[0]
    assert lake.read_partition("top_tracks", DT) == top_tracks(4)


def test_writers_on_different_partitions_do_not_interfere(lake: ParquetLake) -> None:
    days = [DT - timedelta(days=i) for i in range(4)]

    def write(seed: int) -> None:
        for _ in range(3):
            lake.write_partition("top_tracks", days[seed], top_tracks(seed))

    with ThreadPoolExecutor(len(days)) as pool:
        list(pool.map(write, range(len(days))))
    assert lake.partitions("top_tracks") == sorted(days)
    for seed, day in enumerate(days):
        assert lake.read_partition("top_tracks", day) == top_tracks(seed)
        assert len(version_names(lake, "top_tracks", day)) == 1


def test_writers_on_one_partition_end_in_one_consistent_version(lake: ParquetLake) -> None:
    tables = [top_tracks(1, rows=4), top_tracks(2, rows=9)]
    start = threading.Barrier(len(tables))

    def write(table: pa.Table) -> None:
        start.wait()
        for _ in range(6):
            lake.write_partition("top_tracks", DT, table)

    with ThreadPoolExecutor(len(tables)) as pool:
        list(pool.map(write, tables))
    final = lake.read_partition("top_tracks", DT)
    assert final is not None and any(final == t for t in tables)
    [current] = lake.files("top_tracks")[DT]
    assert file_exists(lake, current)
    manifest = lake.store.read_bytes(lake.store.join("top_tracks", f"dt={DT}", MANIFEST))
    assert manifest is not None and str(final.num_rows) in manifest.decode()


# raw zone ------------------------------------------------------------------------------------


def test_raw_files_append_and_read_back_in_landing_order(lake: ParquetLake) -> None:
    fetched = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    batches = [
        [{"request": "/v1/artists?ids=a", "status": 200, "fetched_at": fetched, "body": {"n": i}}]
        for i in range(3)
    ]
    batches[1].append(
        {"request": "/v1/search?q=Sigur Rós", "status": 200, "body": {"名前": "東京"}}
    )
    urls = [lake.write_raw("artists", DT, batch) for batch in batches]
    assert urls == sorted(urls) and len(set(urls)) == 3
    assert all(u.startswith(lake.url) and u.endswith(".jsonl.gz") for u in urls)
    got = list(lake.read_raw("artists", DT))
    assert [r["body"] for r in got] == [{"n": 0}, {"n": 1}, {"名前": "東京"}, {"n": 2}]
    assert got[0]["fetched_at"] == fetched.isoformat().replace("+00:00", "Z")
    lake.write_raw("_progress", DT, [{"kind": "extracted"}])
    assert lake.raw_endpoints(DT) == ["_progress", "artists"]
    assert lake.raw_endpoints(DT + timedelta(days=1)) == []
    assert list(lake.read_raw("tracks", DT)) == []
    assert lake.datasets() == []  # the raw zone holds no dataset


# quarantine ----------------------------------------------------------------------------------


def rejects(reasons: list[str]) -> pa.Table:
    table = top_tracks(0, rows=len(reasons))
    return table.append_column("reason", pa.array(reasons, pa.string()))


def test_quarantine_replaces_and_clears(lake: ParquetLake) -> None:
    assert lake.read_quarantine("top_tracks", DT) is None
    url = lake.quarantine("top_tracks", DT, rejects(["rank out of range", "no track id ✗"]))
    assert url is not None and "/_quarantine/top_tracks/dt=2026-11-26/" in url
    assert lake.read_quarantine("top_tracks", DT) == rejects(["rank out of range", "no track id ✗"])
    lake.quarantine("top_tracks", DT, rejects(["duplicate"]))
    assert lake.read_quarantine("top_tracks", DT) == rejects(["duplicate"])
    assert lake.quarantined() == ["top_tracks"]
    # quarantine is not a dataset, and it does not touch the curated partition
    assert lake.datasets() == [] and lake.read_partition("top_tracks", DT) is None

    assert lake.quarantine("top_tracks", DT, rejects([])) is None
    assert lake.read_quarantine("top_tracks", DT) is None
    assert lake.quarantined() == [] and lake.quarantine_files("top_tracks") == {}


def test_quarantine_needs_a_reason_column(lake: ParquetLake) -> None:
    with pytest.raises(LakeError, match="'reason'"):
        lake.quarantine("top_tracks", DT, top_tracks(0))


# bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda lk: lk.write_partition("../etc", DT, top_tracks(0)), "not a dataset name"),
        (lambda lk: lk.write_partition("raw", DT, top_tracks(0)), "not a dataset name"),
        (lambda lk: lk.read_partition("Top Tracks", DT), "not a dataset name"),
        (lambda lk: lk.write_raw("a/b", DT, []), "not a raw endpoint name"),
        (lambda lk: lk.read_partition("top_tracks", datetime(2026, 1, 1)), "datetime.date"),
        (lambda lk: lk.read_partition("top_tracks", "2026-01-01"), "datetime.date"),
        (
            lambda lk: lk.write_partition("top_tracks", DT, top_tracks(0).drop_columns("rank")),
            r"lacks required column\(s\) \['rank'\]",
        ),
        (
            lambda lk: lk.write_partition(
                "top_tracks", DT, top_tracks(0).append_column("dt", pa.array([DT] * 5))
            ),
            "partition key",
        ),
        (
            lambda lk: lk.write_partition(
                "top_tracks", DT, pa.table({"artist_id": [None], "track_id": ["t"], "rank": [1]})
            ),
            "null values to non-nullable",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(lake: ParquetLake, call: Any, message: str) -> None:
    with pytest.raises(LakeError, match=message):
        call(lake)
