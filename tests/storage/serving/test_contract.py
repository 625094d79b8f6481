"""The serving-store contract, run on every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tunelake.storage.serving import InvalidDocument, ServingStore

pytestmark = pytest.mark.timeout(60)

ROUND_TRIP = {
    "artist_id": "3Nrfpe0tUJi4K4DXYWgMUX",
    "name": "방탄소년단 BTS 🎤",
    "genres": ["k-pop", "k-pop boy group", "🎶"],
    "popularity": 96,
    "followers": 79_000_000,
    "image_url": None,
    "top_tracks": [
        {
            "rank": 1,
            "name": "Dynamite 💥",
            "tempo": 114.0,  # an integral float must come back a float
            "danceability": 0.746,
            "loudness": -4.41,
            "tiny": 1e-7,
            "explicit": False,
        }
    ],
    "related_artists": [
        {"artist_id": "41MozSoPIsD1dJM0CLPjZF", "name": "BLACKPINK", "distance": 0.0}
    ],
    "nested": [[1, 2.5, [3.25]], [], {}],
    "big": 12_345_678_901_234_567_890,
    "dt": "2026-11-26",
}

# Full-width letters, as East Asian keyboards type them: NFKC folds them to "Blur".
FULL_WIDTH_BLUR = "\uff22\uff4c\uff55\uff52"


def doc(artist_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"artist_id": artist_id, "name": name, **fields}


def ids(documents: list[dict[str, Any]]) -> list[str]:
    return [d["artist_id"] for d in documents]


def test_documents_round_trip_exactly(store: ServingStore) -> None:
    assert store.put_many([ROUND_TRIP]) == 1
    got = store.get(ROUND_TRIP["artist_id"])
    assert got == ROUND_TRIP
    # Equality would pass 114 for 114.0 and 1 for True; the JSON text does not.
    assert json.dumps(got, ensure_ascii=False) == json.dumps(ROUND_TRIP, ensure_ascii=False)
    assert store.get_many([ROUND_TRIP["artist_id"]]) == {ROUND_TRIP["artist_id"]: ROUND_TRIP}


def test_upsert_replaces_the_whole_document(store: ServingStore) -> None:
    store.put_many([doc("a1", "Blur", old_field=1, genres=["britpop"])])
    store.put_many([doc("a1", "Blur", new_field=2)])
    assert store.get("a1") == doc("a1", "Blur", new_field=2)
    assert store.count() == 1


def test_last_document_of_a_repeated_id_wins(store: ServingStore) -> None:
    assert store.put_many([doc("a1", "First"), doc("a2", "Other"), doc("a1", "Second")]) == 2
    assert store.get("a1") == doc("a1", "Second")
    assert store.find_by_name("first") == []


def test_missing_ids_read_as_none_or_absent(store: ServingStore) -> None:
    store.put_many([doc("a1", "Blur")])
    assert store.get("missing") is None
    assert store.get_many(["a1", "missing", "a1"]) == {"a1": doc("a1", "Blur")}
    assert store.get_many([]) == {}


def test_name_lookup_is_normalised_and_lists_every_namesake(store: ServingStore) -> None:
    store.put_many(
        [
            doc("c3", FULL_WIDTH_BLUR),
            doc("b2", "blur"),
            doc("a1", "Blur"),
            doc("d4", "Blur Tribute"),
            doc("e5", "Rosé"),
        ]
    )
    assert ids(store.find_by_name("  BLUR ")) == ["a1", "b2", "c3"]
    assert ids(store.find_by_name(FULL_WIDTH_BLUR.upper())) == ["a1", "b2", "c3"]
    assert ids(store.find_by_name("blur   tribute")) == ["d4"]
    assert ids(store.find_by_name("ROSE\u0301")) == ["e5"]  # decomposed é
    assert store.find_by_name("nobody") == []
    assert store.find_by_name("   ") == []


def test_rename_moves_the_artist_in_the_name_index(store: ServingStore) -> None:
    store.put_many([doc("a1", "Old Name"), doc("a2", "Old Name")])
    store.put_many([doc("a1", "New Name", renamed=True)])
    assert ids(store.find_by_name("old name")) == ["a2"]
    assert store.find_by_name("new name") == [doc("a1", "New Name", renamed=True)]


def test_count_follows_distinct_artists(store: ServingStore) -> None:
    assert store.count() == 0
    store.put_many([doc("a1", "A"), doc("a2", "B"), doc("a3", "C")])
    store.put_many([doc("a2", "B again")])
    assert store.count() == 3


def test_writing_no_documents_is_a_no_op(store: ServingStore) -> None:
    store.put_many([doc("a1", "A")])
    assert store.put_many([]) == 0
    assert store.put_many(iter(())) == 0
    assert store.count() == 1


def test_batches_larger_than_one_request(store: ServingStore) -> None:
    # Past Redis's 1,000-per-pipeline chunks, DynamoDB's 1,000-document write windows and
    # its 100-key reads.
    documents = [doc(f"artist-{i:05d}", f"Name {i % 7}", rank=i) for i in range(1_050)]
    assert store.put_many(iter(documents)) == len(documents)
    assert store.count() == len(documents)
    assert store.get_many(ids(documents)) == {d["artist_id"]: d for d in documents}
    assert len(store.find_by_name("name 3")) == len([d for d in documents if d["rank"] % 7 == 3])


def test_two_writers_at_once_end_consistent(open_store: Callable[[], ServingStore]) -> None:
    first, second = open_store(), open_store()
    artist_ids = [f"artist-{i:03d}" for i in range(300)]
    barrier = threading.Barrier(2)

    def write(store: ServingStore, version: str) -> None:
        barrier.wait()
        # Small batches over the same ids in the same order: the two writers keep racing
        # on the same artists, each renaming them to its own names.
        for start in range(0, len(artist_ids), 10):
            store.put_many(
                doc(a, f"{version} {int(a[-3:]) % 10}", version=version)
                for a in artist_ids[start : start + 10]
            )

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(write, first, "left"), pool.submit(write, second, "right")]:
            future.result()

    final = second.get_many(artist_ids)
    assert sorted(final) == artist_ids
    assert first.count() == len(artist_ids)
    for artist_id, document in final.items():
        assert document["name"] == f"{document['version']} {int(artist_id[-3:]) % 10}"
    # The name index agrees with the documents: each name lists exactly its current bearers.
    for version in ("left", "right"):
        for k in range(10):
            name = f"{version} {k}"
            bearers = sorted(a for a, d in final.items() if d["name"] == name)
            assert ids(first.find_by_name(name)) == bearers


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"name": "No Id"}, "artist_id"),
        (doc("", "Empty Id"), "artist_id"),
        (doc("a9", "   "), "name"),
        ({"artist_id": "a9"}, "name"),
        (doc("a9", "Set", tags={"x"}), "JSON"),
        (doc("a9", "NaN", score=float("nan")), "JSON"),
    ],
)
def test_bad_documents_are_refused_clearly(
    store: ServingStore, bad: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidDocument, match=message):
        store.put_many([doc("a1", "Fine"), bad])
    assert store.count() == 0  # the batch holding the bad document was not written


TRENDING = {
    "computed_at": "2026-12-05T13:30:00+00:00",
    "entries": [
        {"rank": 1, "artist_id": "a1", "name": "아이유 IU", "plays": 42, "score": 3.0},
        {"rank": 2, "artist_id": "a2", "name": "Blur", "plays": 12, "score": 2.5},
    ],
}


def test_a_named_list_round_trips_and_is_replaced_whole(store: ServingStore) -> None:
    assert store.get_list("trending") is None
    store.put_list("trending", TRENDING)
    got = store.get_list("trending")
    assert json.dumps(got, ensure_ascii=False) == json.dumps(TRENDING, ensure_ascii=False)
    store.put_list("trending", {"computed_at": "later", "entries": []})
    assert store.get_list("trending") == {"computed_at": "later", "entries": []}
    assert store.get_list("other") is None


def test_lists_are_not_artists(store: ServingStore) -> None:
    store.put_many([doc("a1", "Blur")])
    store.put_list("trending", TRENDING)
    assert store.count() == 1
    assert store.get("list#trending") is None
    assert store.get_many(["a1", "list#trending", "trending"]) == {"a1": doc("a1", "Blur")}
    assert store.find_by_name("trending") == []


@pytest.mark.parametrize(
    ("name", "document", "message"),
    [
        ("", {}, "list name"),
        ("Trending Now", {}, "list name"),
        ("x" * 65, {}, "list name"),
        ("trending", ["not", "a", "dict"], "must be a dict"),
        ("trending", {"score": float("inf")}, "JSON"),
    ],
)
def test_bad_lists_are_refused_clearly(
    store: ServingStore, name: str, document: Any, message: str
) -> None:
    with pytest.raises(InvalidDocument, match=message):
        store.put_list(name, document)
    assert store.get_list("trending") is None
