"""The lake contract, run on a local folder and on S3 (SeaweedFS): see conftest/backends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException

from tunelake.datasets import ARTISTS, CURATED, TOP_TRACKS
from tunelake.storage.lake import IcebergLake, LakeConflict, LakeError
from tunelake.storage.lake.port import (
    EngineWritesPort,
    HousekeepingPort,
    Lake,
    RawZonePort,
    TablesPort,
)

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


def file_exists(lake: IcebergLake, url: str) -> bool:
    return bool(lake.store.fs.exists(url.removeprefix("s3://")))


# round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("port", [TablesPort, EngineWritesPort, RawZonePort, HousekeepingPort])
def test_the_adapter_provides_every_capability_of_the_port(lake: IcebergLake, port: type) -> None:
    members = {n for n in vars(port) if not n.startswith("_")} | set(port.__annotations__)
    assert members, port
    assert [n for n in sorted(members) if not hasattr(lake, n)] == []
    assert port in Lake.__mro__
    whole: Lake = lake  # and, statically, the adapter is the whole port (mypy checks this)
    assert whole is lake


@pytest.mark.parametrize("dataset", sorted(CURATED))
def test_every_dataset_round_trips_with_unicode_and_nulls(lake: IcebergLake, dataset: str) -> None:
    table = sample(CURATED[dataset].schema)
    files = lake.write_partition(dataset, DT, table)
    assert len(files) == 1 and files[0].startswith(lake.url) and files[0].endswith(".parquet")
    got = lake.read_partition(dataset, DT)
    assert got is not None
    assert got.schema.equals(CURATED[dataset].schema)
    assert got.equals(table)


def test_columns_take_the_declared_types(lake: IcebergLake) -> None:
    # a producer that made rank an int64: the lake stores the declared int16
    table = pa.table({"artist_id": ["a"], "track_id": ["t"], "rank": pa.array([1], pa.int64())})
    lake.write_partition("top_tracks", DT, table)
    got = lake.read_partition("top_tracks", DT)
    assert got is not None and got.schema.field("rank").type == pa.int16()


def test_a_dataset_of_its_own_keeps_its_columns_in_iceberg_types(lake: IcebergLake) -> None:
    table = pa.table({"k": pa.array([1, 2], pa.int8()), "v": ["é", None]})
    lake.write_partition("scratch_notes", DT, table)
    # Iceberg's narrowest integer is int (32 bits): an undeclared int8 comes back widened.
    expected = table.cast(pa.schema([pa.field("k", pa.int32()), pa.field("v", pa.string())]))
    assert lake.read_partition("scratch_notes", DT) == expected
    assert lake.datasets() == ["scratch_notes"]


def test_unwritten_partition_reads_none(lake: IcebergLake) -> None:
    assert lake.read_partition("artists", DT) is None
    assert lake.partitions("artists") == []
    assert lake.files("artists") == {}


def test_an_empty_table_empties_the_partition_and_leaves_the_others(lake: IcebergLake) -> None:
    empty = TOP_TRACKS.schema.empty_table()
    lake.write_partition("top_tracks", DT, top_tracks(1))
    lake.write_partition("top_tracks", DT - timedelta(days=1), top_tracks(2))
    lake.write_partition("top_tracks", DT, empty)
    assert lake.read_partition("top_tracks", DT) is None
    assert lake.partitions("top_tracks") == [DT - timedelta(days=1)]
    assert lake.read_partition("top_tracks", DT - timedelta(days=1)) == top_tracks(2)
    every = lake.read_dataset("top_tracks")
    assert every.num_rows == 5 and every.schema.names == [*TOP_TRACKS.schema.names, "dt"]


def test_read_dataset_adds_dt_and_filters_partitions(lake: IcebergLake) -> None:
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


def test_read_dataset_of_nothing_is_empty_with_the_schema(lake: IcebergLake) -> None:
    got = lake.read_dataset("audio_features")
    assert got.num_rows == 0
    assert got.schema.names == [*CURATED["audio_features"].schema.names, "dt"]


def test_partitions_are_listed_ascending_per_dataset(lake: IcebergLake) -> None:
    days = [date(2026, 3, 1), date(2025, 12, 31), date(2026, 1, 15)]
    for day in days:
        lake.write_partition("top_tracks", day, top_tracks(0))
    lake.write_partition("artists", DT, sample(CURATED["artists"].schema))
    assert lake.partitions("top_tracks") == sorted(days)
    assert lake.partitions("artists") == [DT]
    assert list(lake.files("top_tracks")) == sorted(days)
    assert lake.datasets() == ["artists", "top_tracks"]


# atomic overwrite ----------------------------------------------------------------------------


def test_overwrite_replaces_the_partition_and_keeps_one_copy(lake: IcebergLake) -> None:
    old_files = lake.write_partition("top_tracks", DT, top_tracks(1, rows=7))
    lake.write_partition("top_tracks", DT, top_tracks(1, rows=7))  # a re-run of the same dt
    new_files = lake.write_partition("top_tracks", DT, top_tracks(2, rows=3))
    assert lake.read_partition("top_tracks", DT) == top_tracks(2, rows=3)
    assert lake.files("top_tracks") == {DT: new_files} and len(new_files) == 1
    assert lake.read_dataset("top_tracks").num_rows == 3
    # The replaced files stay for time travel until housekeeping expires their snapshot.
    assert all(file_exists(lake, f) for f in old_files + new_files)


def test_a_reader_never_sees_a_mix_of_versions(lake: IcebergLake) -> None:
    versions = [top_tracks(seed, rows=20 + seed) for seed in range(3)]
    lake.write_partition("top_tracks", DT, versions[0])
    rounds = 15 if lake.store.is_local else 6  # an S3 commit takes ~15 requests
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


def test_a_write_whose_commit_fails_is_invisible_and_its_files_are_vacuumed(
    lake: IcebergLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.write_partition("top_tracks", DT, top_tracks(1))
    committed = lake.files("top_tracks")

    def power_cut(self: Catalog, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:  # the data files are written, the commit never lands
        patch.setattr(type(lake.catalog), "commit_table", power_cut)
        with pytest.raises(RuntimeError, match="power cut"):
            lake.write_partition("top_tracks", DT, top_tracks(2))
    assert lake.read_partition("top_tracks", DT) == top_tracks(1)
    assert lake.files("top_tracks") == committed
    data = lake.store.join(lake.namespace, "top_tracks", "data")
    assert len(lake.store.fs.find(data)) == 2  # the committed file and the orphan

    lake.vacuum(timedelta(days=7))  # a young orphan may be a write in progress: kept
    assert len(lake.store.fs.find(data)) == 2
    lake.vacuum(timedelta(days=7), orphan_grace=timedelta(0))
    assert sorted(lake.store.fs.find(data)) == [f.removeprefix("s3://") for f in committed[DT]]
    assert lake.read_partition("top_tracks", DT) == top_tracks(1)


def test_a_commit_that_keeps_losing_races_fails_clearly(
    lake: IcebergLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.write_partition("top_tracks", DT, top_tracks(1))
    calls = []

    def lose(self: Catalog, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise CommitFailedException("another writer committed first")

    monkeypatch.setattr(type(lake.catalog), "commit_table", lose)
    with pytest.raises(LakeConflict, match="lost a race") as caught:
        lake.write_partition("top_tracks", DT, top_tracks(2))
    assert len(calls) > 1 and caught.value.exit_code == 75
    monkeypatch.undo()
    assert lake.read_partition("top_tracks", DT) == top_tracks(1)


def test_writers_on_different_partitions_do_not_interfere(lake: IcebergLake) -> None:
    days = [DT - timedelta(days=i) for i in range(4)]

    def write(seed: int) -> None:
        for _ in range(3):
            lake.write_partition("top_tracks", days[seed], top_tracks(seed))

    with ThreadPoolExecutor(len(days)) as pool:
        list(pool.map(write, range(len(days))))
    assert lake.partitions("top_tracks") == sorted(days)
    for seed, day in enumerate(days):
        assert lake.read_partition("top_tracks", day) == top_tracks(seed)
        assert len(lake.files("top_tracks")[day]) == 1


def test_writers_on_one_partition_end_in_one_consistent_version(lake: IcebergLake) -> None:
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
    [info] = lake.info()
    assert (info.name, info.rows, info.files) == ("top_tracks", final.num_rows, 1)


# raw zone ------------------------------------------------------------------------------------


def test_raw_files_append_and_read_back_in_landing_order(lake: IcebergLake) -> None:
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


def test_quarantine_replaces_and_clears(lake: IcebergLake) -> None:
    assert lake.read_quarantine("top_tracks", DT) is None
    url = lake.quarantine("top_tracks", DT, rejects(["rank out of range", "no track id ✗"]))
    assert url is not None and "/quarantine_top_tracks/data/dt=2026-11-26/" in url
    got = lake.read_quarantine("top_tracks", DT)
    # rejected values are kept as text: a value its column cannot hold is often why
    expected = rejects(["rank out of range", "no track id ✗"])
    assert got is not None and got.schema.names == expected.schema.names
    assert all(f.type == pa.string() and f.nullable for f in got.schema)
    assert got.to_pylist() == as_text(expected)
    lake.quarantine("top_tracks", DT, rejects(["duplicate"]))
    got = lake.read_quarantine("top_tracks", DT)
    assert got is not None and got.to_pylist() == as_text(rejects(["duplicate"]))
    assert lake.quarantined() == ["top_tracks"]
    # quarantine is not a dataset, and it does not touch the curated partition
    assert lake.datasets() == [] and lake.read_partition("top_tracks", DT) is None

    assert lake.quarantine("top_tracks", DT, rejects([])) is None
    assert lake.read_quarantine("top_tracks", DT) is None
    assert lake.quarantine_files("top_tracks") == {}


def as_text(table: pa.Table) -> list[dict[str, str | None]]:
    return [{k: None if v is None else str(v) for k, v in r.items()} for r in table.to_pylist()]


def test_rejected_rows_may_lack_what_the_dataset_requires(lake: IcebergLake) -> None:
    rows = pa.table({"artist_id": [None, "a"], "rank": [1, 999], "reason": ["no id", "rank"]})
    lake.quarantine("top_tracks", DT, rows)
    got = lake.read_quarantine("top_tracks", DT)
    assert got is not None and got.to_pylist() == as_text(rows)


def test_rejected_values_of_another_type_than_the_column_are_kept(lake: IcebergLake) -> None:
    typed = pa.table({"track_id": ["t1"], "tempo": [500.5], "reason": ["tempo out of range"]})
    lake.quarantine("audio_features", DT, typed)
    text = pa.table({"track_id": ["t2"], "tempo": ["abc"], "reason": ["tempo is not a number"]})
    lake.quarantine("audio_features", DT + timedelta(days=1), text)
    got = lake.read_quarantine("audio_features", DT + timedelta(days=1))
    assert got is not None and got.to_pylist() == as_text(text)
    assert lake.read_quarantine("audio_features", DT).to_pylist() == as_text(typed)


def test_quarantine_needs_a_reason_column(lake: IcebergLake) -> None:
    with pytest.raises(LakeError, match="'reason'"):
        lake.quarantine("top_tracks", DT, top_tracks(0))


# bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda lk: lk.write_partition("../etc", DT, top_tracks(0)), "not a dataset name"),
        (lambda lk: lk.write_partition("raw", DT, top_tracks(0)), "not a dataset name"),
        (lambda lk: lk.write_partition("quarantine_x", DT, top_tracks(0)), "not a dataset name"),
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
def test_bad_input_gets_a_clear_error(lake: IcebergLake, call: Any, message: str) -> None:
    with pytest.raises(LakeError, match=message):
        call(lake)


# schema evolution, time travel, housekeeping --------------------------------------------------


def test_a_new_column_is_a_schema_evolution_with_stable_field_ids(lake: IcebergLake) -> None:
    lake.write_partition("artists", DT - timedelta(days=1), sample(ARTISTS.schema))
    table = lake.load("artists")
    assert table is not None
    ids = {f.name: f.field_id for f in table.schema().fields}
    wider = sample(ARTISTS.schema).append_column("country", pa.array(["IS", None, "JP", "日本"]))
    lake.write_partition("artists", DT, wider)
    table = lake.load("artists")
    assert table is not None
    evolved = {f.name: f.field_id for f in table.schema().fields}
    assert {k: evolved[k] for k in ids} == ids and evolved["country"] > max(ids.values())
    assert lake.read_partition("artists", DT) == wider
    every = lake.read_dataset("artists")
    old = every.filter(pc.equal(every["dt"], pa.scalar(DT - timedelta(days=1), pa.date32())))
    assert old.column("country").null_count == old.num_rows == 4


def test_files_as_of_a_time_are_that_snapshot_s(lake: IcebergLake) -> None:
    assert lake.oldest_snapshot_time() is None
    before_any = datetime.now(UTC)
    first = lake.write_partition("top_tracks", DT, top_tracks(1))
    between = datetime.now(UTC)
    second = lake.write_partition("top_tracks", DT, top_tracks(2))
    assert lake.files("top_tracks", as_of=between) == {DT: first}
    assert lake.files("top_tracks") == {DT: second}
    assert lake.files("top_tracks", as_of=before_any - timedelta(seconds=1)) == {}
    table = lake.load("top_tracks")
    assert table is not None and table.current_snapshot() is not None
    current = table.current_snapshot()
    assert current is not None
    assert lake.snapshot_time(current.snapshot_id) >= between
    with pytest.raises(LakeError, match="no table of the lake has a snapshot 42"):
        lake.snapshot_time(42)
    oldest = lake.oldest_snapshot_time()
    assert oldest is not None and before_any - timedelta(seconds=1) < oldest <= between


def test_vacuum_expires_old_snapshots_and_their_files(lake: IcebergLake) -> None:
    old_files = lake.write_partition("top_tracks", DT, top_tracks(1))
    lake.write_partition("top_tracks", DT, top_tracks(2))
    current = lake.write_partition("top_tracks", DT, top_tracks(3))
    lake.write_partition("artists", DT, sample(ARTISTS.schema))
    before = {i.name: i for i in lake.info()}
    assert before["top_tracks"].snapshots >= 3

    kept = lake.vacuum(timedelta(days=7), orphan_grace=timedelta(0))
    assert all(v.expired_snapshots == 0 for v in kept)
    assert all(file_exists(lake, f) for f in old_files)

    done = {v.table: v for v in lake.vacuum(timedelta(0), orphan_grace=timedelta(0))}
    assert done["top_tracks"].expired_snapshots == before["top_tracks"].snapshots - 1
    assert done["top_tracks"].removed_files > 0 and done["top_tracks"].removed_bytes > 0
    assert not any(file_exists(lake, f) for f in old_files)
    after = {i.name: i for i in lake.info()}
    assert after["top_tracks"].snapshots == 1
    assert (after["top_tracks"].rows, after["top_tracks"].files) == (5, 1)
    assert lake.files("top_tracks") == {DT: current}
    assert lake.read_partition("top_tracks", DT) == top_tracks(3)
    assert lake.read_partition("artists", DT) == sample(ARTISTS.schema)
