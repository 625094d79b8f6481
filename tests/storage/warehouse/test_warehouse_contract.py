"""The warehouse contract, the same on every backend (SQLite, MariaDB, PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from structlog.testing import capture_logs

from tests.fixtures import SPOTIFY
from tests.processes import at_once
from tunelake.datasets import AUDIO_FEATURES, TRACKS
from tunelake.storage.warehouse import SqlWarehouse
from tunelake.storage.warehouse.engine import create_warehouse_engine, parse_url
from tunelake.storage.warehouse.migrations import VERSION_TABLE
from tunelake.storage.warehouse.schema import metadata

FIXTURES = SPOTIFY
DT = date(2026, 11, 26)

# Strings that trip up CSV bulk paths, collations and encodings.
AWKWARD = [
    "블랙핑크",
    "BLACKPINK 🖤💗 Lovesick Girls",
    "Beyoncé",
    "Sigur Rós — Hoppípolla",
    'quote " inside',
    "comma, inside",
    "back\\slash \\N",
    "line\nbreak\r\nand tab\t",
    "NULL",
    "",
    "  padded  ",
    "e\u0301 (combining) vs é",
]


def recorded_tracks() -> list[dict[str, Any]]:
    """TRACKS rows from real recorded Spotify track objects."""
    rows = []
    for name in ("artist_top_tracks.json", "tracks_several.json"):
        for t in json.loads((FIXTURES / name).read_text(encoding="utf-8"))["tracks"]:
            rows.append(
                {
                    "track_id": t["id"],
                    "name": t["name"],
                    "artist_id": t["artists"][0]["id"],
                    "album_id": t["album"]["id"],
                    "album_name": t["album"]["name"],
                    "release_date": t["album"].get("release_date"),
                    "duration_ms": t["duration_ms"],
                    "explicit": t["explicit"],
                    "popularity": t.get("popularity"),
                    "isrc": t.get("external_ids", {}).get("isrc"),
                    "preview_url": t.get("preview_url"),
                }
            )
    return rows


def awkward_tracks() -> list[dict[str, Any]]:
    return [
        {
            "track_id": f"awk{i:02d}",
            "name": s,
            "artist_id": "3Nrfpe0tUJi4K4DXYWgMUX",
            "album_id": None if i % 2 else f"alb{i}",
            "album_name": s,
            "release_date": "2020-10-02",
            "duration_ms": 2**40 + i,
            "explicit": [True, False, None][i % 3],
            "popularity": None if i % 4 == 0 else i,
            "isrc": None,
            "preview_url": None,
        }
        for i, s in enumerate(AWKWARD)
    ]


def table_of(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def stored(warehouse: SqlWarehouse, table: str, **where: Any) -> list[dict[str, Any]]:
    """Rows as dicts, without the warehouse's own clock columns."""
    rows = warehouse.read(table, where or None).to_pylist()
    return [{k: v for k, v in r.items() if k not in ("updated_at", "created_at")} for r in rows]


def by_key(rows: list[dict[str, Any]], *key: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: tuple(r[k] for k in key))


# migrations -------------------------------------------------------------------------------
@contextmanager
def migration_context(url: str) -> Iterator[MigrationContext]:
    """Alembic's view of the database at `url`."""
    engine = create_warehouse_engine(parse_url(url))
    try:
        with engine.connect() as conn:
            yield MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    finally:
        engine.dispose()


def index_names(context: MigrationContext, table: str) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(context.bind).get_indexes(table)}


def test_migrate_upgrades_an_existing_warehouse_and_keeps_its_rows(fresh_url: str) -> None:
    rows = recorded_tracks()
    with SqlWarehouse(fresh_url) as warehouse:
        warehouse.migrate("0001")
        warehouse.upsert("tracks", table_of(rows, TRACKS.schema))
        with migration_context(fresh_url) as context:
            assert context.get_current_heads() == ("0001",)
            assert "ix_tracks_artist_id" not in index_names(context, "tracks")
        warehouse.migrate()
        warehouse.migrate()
        assert by_key(stored(warehouse, "tracks"), "track_id") == by_key(rows, "track_id")
    with migration_context(fresh_url) as context:
        assert context.get_current_heads() == ("0002",)
        assert "ix_tracks_artist_id" in index_names(context, "tracks")


def test_migrations_build_exactly_the_schema_module(fresh_url: str) -> None:
    with SqlWarehouse(fresh_url) as warehouse:
        warehouse.migrate()
    with migration_context(fresh_url) as context:
        assert compare_metadata(context, metadata) == []


# upserts ----------------------------------------------------------------------------------
def test_upsert_twice_gives_the_same_state_without_duplicates(warehouse: SqlWarehouse) -> None:
    rows = recorded_tracks() + awkward_tracks()
    table = table_of(rows, TRACKS.schema)
    assert warehouse.upsert("tracks", table) == len(rows)
    first = stored(warehouse, "tracks")
    warehouse.upsert("tracks", table)
    assert stored(warehouse, "tracks") == first
    assert warehouse.count("tracks") == len(rows)
    assert by_key(first, "track_id") == by_key(rows, "track_id")


def test_upsert_updates_changed_values_and_keeps_columns_left_out(warehouse: SqlWarehouse) -> None:
    rows = recorded_tracks()
    warehouse.upsert("tracks", table_of(rows, TRACKS.schema))
    changed = pa.table(
        {
            "track_id": [rows[0]["track_id"]],
            "name": ["Do I Wanna Know? (Remastered)"],
            "artist_id": [rows[0]["artist_id"]],
            "popularity": pa.array([None], pa.int32()),
        }
    )
    warehouse.upsert("tracks", changed)
    [after] = stored(warehouse, "tracks", track_id=rows[0]["track_id"])
    assert after == {**rows[0], "name": "Do I Wanna Know? (Remastered)", "popularity": None}
    assert warehouse.count("tracks") == len(rows)


def test_a_key_given_twice_keeps_the_last_row(warehouse: SqlWarehouse) -> None:
    rows = pa.table(
        {
            "track_id": ["dup", "other", "dup"],
            "name": ["first", "x", "last"],
            "artist_id": ["a"] * 3,
        }
    )
    assert warehouse.upsert("tracks", rows) == 2
    assert [r["name"] for r in stored(warehouse, "tracks", track_id="dup")] == ["last"]


def test_ids_differing_only_by_case_are_different_rows(warehouse: SqlWarehouse) -> None:
    ids = ["4tZwfgrHOc3mvqYlEYSvVi", "4TZWFGRHOC3MVQYLEYSVVI", "4tzwfgrhoc3mvqyleysvvi"]
    warehouse.upsert("artists", pa.table({"artist_id": ids, "name": ["a", "b", "c"]}))
    assert warehouse.count("artists") == 3
    assert [r["name"] for r in stored(warehouse, "artists", artist_id=ids[1])] == ["b"]


def test_nulls_bools_dates_floats_and_unicode_round_trip(warehouse: SqlWarehouse) -> None:
    tracks = awkward_tracks()
    warehouse.upsert("tracks", table_of(tracks, TRACKS.schema))
    assert by_key(stored(warehouse, "tracks"), "track_id") == by_key(tracks, "track_id")

    features = json.loads((FIXTURES / "audio_features_several.json").read_text(encoding="utf-8"))
    names = AUDIO_FEATURES.schema.names
    rows = [
        {k: f.get(k) for k in names} | {"track_id": f["id"], "source": "spotify"}
        for f in features["audio_features"]
        if f
    ]
    rows.append(
        {k: None for k in names}
        | {"track_id": "extremes", "source": "reccobeats", "danceability": 1 / 3}
        | {"loudness": -60.000000000000014, "tempo": 1e-300, "energy": 0.1, "liveness": 1e300}
    )
    warehouse.upsert("audio_features", table_of(rows, AUDIO_FEATURES.schema))
    assert by_key(stored(warehouse, "audio_features"), "track_id") == by_key(rows, "track_id")

    artists = [{"artist_id": f"k{i}", "name": s, "followers": 2**40} for i, s in enumerate(AWKWARD)]
    warehouse.upsert("artists", pa.Table.from_pylist(artists))
    read = stored(warehouse, "artists")
    assert [(r["artist_id"], r["name"], r["followers"]) for r in read] == [
        (a["artist_id"], a["name"], a["followers"]) for a in by_key(artists, "artist_id")
    ]


@pytest.mark.services
def test_mariadb_loads_by_load_data_or_multirow_insert_where_refused(
    scratch_database: Callable[[str], str],
) -> None:
    url = scratch_database("mariadb")
    rows = recorded_tracks() + awkward_tracks()
    for query, refused in (("", False), ("?local_infile=0", True)):
        with SqlWarehouse(url + query) as warehouse, capture_logs() as logs:
            warehouse.migrate()
            warehouse.upsert("tracks", table_of(rows, TRACKS.schema))
            assert by_key(stored(warehouse, "tracks"), "track_id") == by_key(rows, "track_id")
        warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
        assert warnings == (
            ["LOAD DATA LOCAL INFILE refused; loading by multi-row INSERT (slower)"]
            if refused
            else []
        )


def test_upsert_stamps_updated_at_with_the_database_clock(warehouse: SqlWarehouse) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    warehouse.upsert("artists", pa.table({"artist_id": ["a"], "name": ["A"]}))
    [stamp] = warehouse.read("artists")["updated_at"].to_pylist()
    assert before < stamp < datetime.now(UTC) + timedelta(minutes=5)


# children ---------------------------------------------------------------------------------
def top_tracks(artist: str, ids: list[str]) -> pa.Table:
    n = len(ids)
    return pa.table(
        {"artist_id": [artist] * n, "track_id": ids, "rank": list(range(1, n + 1)), "dt": [DT] * n}
    )


def test_replace_children_replaces_exactly_the_parents_given(warehouse: SqlWarehouse) -> None:
    warehouse.replace_children(
        "top_tracks",
        "artist_id",
        pa.concat_tables([top_tracks("a", ["t1", "t2", "t3"]), top_tracks("b", ["t4"])]),
    )
    assert warehouse.replace_children("top_tracks", "artist_id", top_tracks("a", ["t9", "t8"])) == 2
    assert [
        (r["artist_id"], r["rank"], r["track_id"]) for r in stored(warehouse, "top_tracks")
    ] == [
        ("a", 1, "t9"),
        ("a", 2, "t8"),
        ("b", 1, "t4"),
    ]


def test_artist_genres_follow_the_artists_genres(warehouse: SqlWarehouse) -> None:
    def upsert(genres: list[list[str] | None]) -> None:
        ids = ["a", "b", "c"][: len(genres)]
        rows = pa.table(
            {"artist_id": ids, "name": ids, "genres": pa.array(genres, pa.list_(pa.string()))}
        )
        warehouse.upsert("artists", rows)

    def genres() -> list[tuple[str, str]]:
        return [(r["artist_id"], r["genre"]) for r in stored(warehouse, "artist_genres")]

    upsert([["k-pop", "dance pop"], ["indie"], ["rock"]])
    assert genres() == [("a", "dance pop"), ("a", "k-pop"), ("b", "indie"), ("c", "rock")]
    # a new list replaces, null means unknown (kept), an empty list means none
    upsert([["k-pop", "k-pop", "girl group"], None, []])
    assert genres() == [("a", "girl group"), ("a", "k-pop"), ("b", "indie")]
    assert warehouse.count("artists") == 3


# reads ------------------------------------------------------------------------------------
def test_missing_keys_read_as_empty(warehouse: SqlWarehouse) -> None:
    warehouse.upsert("tracks", table_of(recorded_tracks(), TRACKS.schema))
    missing = warehouse.read("tracks", {"track_id": "no-such-track"})
    assert missing.num_rows == 0
    assert missing.schema.names == TRACKS.schema.names
    assert warehouse.read("top_tracks", {"artist_id": "nobody"}).num_rows == 0
    assert warehouse.count("related_artists") == 0
    assert warehouse.read("tracks", {"isrc": None}).num_rows == 0
    assert warehouse.read("top_tracks", {"dt": "2026-11-26"}).num_rows == 0


# ingest requests --------------------------------------------------------------------------
def test_ingest_request_queue(warehouse: SqlWarehouse) -> None:
    assert warehouse.add_ingest_requests(["블랙핑크", " Blur ", "blur", "Blur"], source="cli") == 3
    assert warehouse.add_ingest_requests(["Blur", "Oasis"], source="api") == 1
    pending = warehouse.pending_ingest_requests()
    assert [(r["query"], r["source"], r["status"]) for r in pending] == [
        ("블랙핑크", "cli", "pending"),
        ("Blur", "cli", "pending"),
        ("blur", "cli", "pending"),
        ("Oasis", "api", "pending"),
    ]
    first = pending[0]["request_id"]
    warehouse.resolve_ingest_request(first, "done", "41MozSoPIsD1dJM0CLPjZF", None)
    warehouse.resolve_ingest_request(
        pending[2]["request_id"], "ambiguous", None, "2 artists named blur"
    )
    assert [r["query"] for r in warehouse.pending_ingest_requests()] == ["Blur", "Oasis"]
    [done] = stored(warehouse, "ingest_requests", request_id=first)
    assert (done["status"], done["artist_id"]) == ("done", "41MozSoPIsD1dJM0CLPjZF")
    # resolved, so it can be asked for again
    assert warehouse.add_ingest_requests(["블랙핑크"], source="api") == 1
    with pytest.raises(LookupError, match="no ingest request"):
        warehouse.resolve_ingest_request(10**9, "done", None, None)
    with pytest.raises(ValueError, match="status must be one of"):
        warehouse.resolve_ingest_request(first, "pending", None, None)


def test_an_ingest_request_in_review_joins_the_queue_when_approved(
    warehouse: SqlWarehouse,
) -> None:
    assert warehouse.add_ingest_requests(["Sigur Rós"], source="chat", status="review") == 1
    # in review, it is not queued again, and not pending yet
    assert warehouse.add_ingest_requests(["Sigur Rós"], source="api") == 0
    assert warehouse.pending_ingest_requests() == []
    [waiting] = stored(warehouse, "ingest_requests", status="review")
    assert warehouse.approve_ingest_request(waiting["request_id"]) is True
    assert [r["query"] for r in warehouse.pending_ingest_requests()] == ["Sigur Rós"]
    assert warehouse.approve_ingest_request(waiting["request_id"]) is False  # not in review
    assert warehouse.approve_ingest_request(10**9) is False
    with pytest.raises(ValueError, match="a new ingest request is one of"):
        warehouse.add_ingest_requests(["Blur"], source="api", status="done")
    with pytest.raises(ValueError, match="status must be one of"):
        warehouse.resolve_ingest_request(waiting["request_id"], "review", None, None)


# run records ------------------------------------------------------------------------------
def test_run_records(warehouse: SqlWarehouse) -> None:
    start = datetime(2026, 11, 26, 8, 0, 0, 123456, tzinfo=UTC)
    for i, step in enumerate(["run", "extract"]):
        warehouse.record_run(
            {
                "run_id": "r1",
                "step": step,
                "dt": DT,
                "status": "running",
                "started_at": start + timedelta(seconds=i),
            }
        )
    warehouse.record_run(
        {
            "run_id": "r1",
            "step": "extract",
            "status": "ok",
            "finished_at": start + timedelta(seconds=3),
            "duration_s": 2.5,
            "rows_in": 120,
            "rows_out": 118,
            "rows_quarantined": 2,
            "details": json.dumps({"endpoint": "artists", "note": "블랙핑크"}),
        }
    )
    later = datetime(2026, 11, 27, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    warehouse.record_run(
        {"run_id": "r2", "step": "run", "status": "failed", "started_at": later, "error": "boom"}
    )

    runs = warehouse.runs()
    assert [(r["run_id"], r["step"], r["status"]) for r in runs] == [
        ("r2", "run", "failed"),
        ("r1", "extract", "ok"),
        ("r1", "run", "running"),
    ]
    assert runs[0]["started_at"] == later  # stored as UTC, the instant kept
    extract = runs[1]
    assert extract["started_at"] == start + timedelta(seconds=1)
    assert extract["finished_at"] == start + timedelta(seconds=3)
    counts = [extract[k] for k in ("dt", "duration_s", "rows_in", "rows_out", "rows_quarantined")]
    assert counts == [DT, 2.5, 120, 118, 2]
    assert extract["details"] == {"endpoint": "artists", "note": "블랙핑크"}
    assert [r["run_id"] for r in warehouse.runs(limit=1)] == ["r2"]


# concurrency ------------------------------------------------------------------------------
def run_together(*jobs: Callable[[], object], rounds: int) -> None:
    """Each job `rounds` times, the jobs started together each round, in threads of their own."""
    barrier = threading.Barrier(len(jobs))

    def repeat(job: Callable[[], object]) -> None:
        for _ in range(rounds):
            barrier.wait()
            job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        for future in [pool.submit(repeat, job) for job in jobs]:
            future.result()


def test_two_writers_upserting_overlapping_keys_end_consistent(
    open_warehouses: Callable[[], SqlWarehouse],
) -> None:
    first, second = open_warehouses(), open_warehouses()
    ids = [f"track{i:05d}" for i in range(3_000)]

    def tracks(keys: list[str], name: str) -> pa.Table:
        n = len(keys)
        return pa.table({"track_id": keys, "name": [name] * n, "artist_id": ["a"] * n})

    run_together(
        lambda: first.upsert("tracks", tracks(ids[:2_000], "first")),
        lambda: second.upsert("tracks", tracks(ids[1_000:], "second")),
        rounds=3,
    )
    names = {r["track_id"]: r["name"] for r in stored(first, "tracks")}
    assert len(names) == len(ids)
    assert {names[k] for k in ids[:1_000]} == {"first"}
    assert {names[k] for k in ids[2_000:]} == {"second"}
    assert {names[k] for k in ids[1_000:2_000]} <= {"first", "second"}


def test_two_writers_replacing_one_parents_children_leave_one_whole_set(
    open_warehouses: Callable[[], SqlWarehouse],
) -> None:
    first, second = open_warehouses(), open_warehouses()
    artists = [f"artist{i}" for i in range(50)]

    def sets(size: int, track: str) -> pa.Table:
        return pa.concat_tables([top_tracks(a, [track] * size) for a in artists])

    run_together(
        lambda: first.replace_children("top_tracks", "artist_id", sets(10, "first")),
        lambda: second.replace_children("top_tracks", "artist_id", sets(4, "second")),
        rounds=5,
    )
    children: dict[str, list[str]] = {}
    for r in stored(first, "top_tracks"):
        children.setdefault(r["artist_id"], []).append(r["track_id"])
    assert sorted(children) == sorted(artists)
    assert all(c in (["first"] * 10, ["second"] * 4) for c in children.values())


# search and aggregates (what the service reads) ----------------------------------------------
SEARCHABLE = ["Sigur Rós", "sigurd", "The Sigurs", "x_y%z", "블랙핑크", "Blur"]


def test_search_artists_pages_through_names_containing_the_text(warehouse: SqlWarehouse) -> None:
    ids = [f"s{i}" for i in range(len(SEARCHABLE))]
    genres = [["post-rock", "icelandic"], None, [], None, None, None]
    warehouse.upsert(
        "artists",
        pa.table(
            {
                "artist_id": ids,
                "name": SEARCHABLE,
                "genres": pa.array(genres, pa.list_(pa.string())),
            }
        ),
    )

    rows, total = warehouse.search_artists("SIGUR", 10, 0)

    assert total == 3 and {r["name"] for r in rows} == {"Sigur Rós", "sigurd", "The Sigurs"}
    assert set(rows[0]) == {"artist_id", "name", "popularity", "followers", "image_url", "genres"}
    # each artist's genres, sorted, as its serving document has them (none: an empty list)
    assert {r["name"]: r["genres"] for r in rows} == {
        "Sigur Rós": ["icelandic", "post-rock"],
        "sigurd": [],
        "The Sigurs": [],
    }
    # pages are slices of one order, whatever the backend's collation makes of it
    paged = [r for offset in (0, 2) for r in warehouse.search_artists("sigur", 2, offset)[0]]
    assert paged == rows
    assert warehouse.search_artists("sigur", 2, 3) == ([], 3)
    assert [r["name"] for r in warehouse.search_artists("SIGUR RÓS", 10, 0)[0]] == ["Sigur Rós"]
    # % and _ are characters to find, not wildcards
    assert [r["name"] for r in warehouse.search_artists("%", 10, 0)[0]] == ["x_y%z"]
    assert [r["name"] for r in warehouse.search_artists("y%", 10, 0)[0]] == ["x_y%z"]
    assert warehouse.search_artists("_y_", 10, 0) == ([], 0)
    assert [r["name"] for r in warehouse.search_artists("랙핑", 10, 0)[0]] == ["블랙핑크"]
    assert warehouse.search_artists("nobody", 10, 0) == ([], 0)
    with pytest.raises(ValueError, match="limit"):
        warehouse.search_artists("a", 0, 0)


def test_genre_counts_most_artists_first(warehouse: SqlWarehouse) -> None:
    genres = [["rock", "indie"], ["rock"], ["jazz", "indie"], ["rock"], []]
    rows = pa.table(
        {
            "artist_id": [f"g{i}" for i in range(5)],
            "name": [f"g{i}" for i in range(5)],
            "genres": pa.array(genres, pa.list_(pa.string())),
        }
    )
    warehouse.upsert("artists", rows)

    assert warehouse.genre_counts(10) == [("rock", 3), ("indie", 2), ("jazz", 1)]
    assert warehouse.genre_counts(1) == [("rock", 3)]


def _migrated_revision(url: str) -> str | None:
    with SqlWarehouse(url) as warehouse:
        warehouse.migrate()
        return warehouse.schema_revision()


def test_concurrent_first_migrations_all_succeed(fresh_url: str) -> None:
    # Dagster's backfill launches several runs on a new warehouse at once; each migrates it.
    assert at_once(_migrated_revision, fresh_url) == ["0002"] * 4
    with migration_context(fresh_url) as migrations:
        assert compare_metadata(migrations, metadata) == []
