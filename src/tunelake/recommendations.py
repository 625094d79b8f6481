"""The recommendation use cases (re-exported by `tunelake.app`): the offline evaluation, the
per-method neighbour lists the publish step writes into the serving documents, and a
listener's recommendations. The computations are in `tunelake.engines` (colistening,
hybrid, recommend, evaluate); this module reads the plays and the artists and shapes results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pydantic import BaseModel, TypeAdapter

from tunelake.config import Settings
from tunelake.engines import hybrid
from tunelake.engines.colistening import ScoredNeighbours, UserArtists
from tunelake.engines.colistening import top_k as listening_top_k
from tunelake.engines.evaluate import Evaluation
from tunelake.engines.evaluate import evaluate as evaluate_methods
from tunelake.engines.recommend import ItemNeighbours, recommend
from tunelake.engines.vectors import vector_matrix
from tunelake.errors import InputError, NotFound
from tunelake.events.table import read_plays
from tunelake.models import ArtistDocument, RelatedArtist
from tunelake.pipeline.resources import reading_lake, reading_serving
from tunelake.sources.user_artists import read_user_artists
from tunelake.storage.lake.iceberg_lake import IcebergLake
from tunelake.storage.serving.port import ServingStore

Method = Literal["audio", "listening", "hybrid"]
METHODS: tuple[Method, ...] = ("audio", "listening", "hybrid")
_RELATED = TypeAdapter(tuple[RelatedArtist, ...])
Lists = dict[str, list[tuple[str, float, float]]]
"""artist -> [(neighbour, score, distance), ...], best first."""


# The offline evaluation ----------------------------------------------------------------------


def evaluate(
    settings: Settings,
    *,
    plays_file: Path | None = None,
    k: int = 10,
    holdout: float = 0.2,
    seed: int = 0,
    lake: IcebergLake | None = None,
) -> Evaluation:
    """Every method on one seeded split of a HetRec-layout file, or of the lake's plays (then
    with the newest artist vectors and genres: audio, hybrid and genre precision)."""
    if not 0 < holdout < 1:
        raise InputError(f"--holdout must be between 0 and 1 (exclusive), got {holdout}")
    if k < 1:
        raise InputError(f"--k must be a positive integer, got {k}")
    if plays_file is not None:
        table = read_user_artists(plays_file)
        plays = UserArtists.from_pairs(table["user_id"], table["artist_id"], table["plays"])
        return evaluate_methods(plays, k=k, holdout=holdout, seed=seed)
    lake = lake if lake is not None else reading_lake(settings)
    rows = read_plays(lake, columns=["user_id", "artist_id"])
    if rows.num_rows == 0:
        raise NotFound(
            "no plays in the lake: consume some (`tunelake events produce` then "
            "`tunelake events consume`) or evaluate a file with --plays FILE"
        )
    plays = UserArtists.from_plays(rows)
    vectors, genres = artist_features(lake, plays.artist_ids.to_pylist())
    return evaluate_methods(plays, k=k, holdout=holdout, seed=seed, vectors=vectors, genres=genres)


def artist_features(
    lake: IcebergLake, ids: Sequence[str]
) -> tuple[np.ndarray | None, list[frozenset[str]] | None]:
    """The newest audio vector (NaN rows for artists without) and genres of each id, None
    when the lake holds none at all."""
    vectors_table = _newest(lake, "artist_vectors")
    artists = _newest(lake, "artists")
    vectors = None
    if vectors_table.num_rows:
        matrix = vector_matrix(vectors_table)
        row_of = {a: i for i, a in enumerate(vectors_table["artist_id"].to_pylist())}
        vectors = np.full((len(ids), matrix.shape[1]), np.nan)
        for i, a in enumerate(ids):
            if a in row_of:
                vectors[i] = matrix[row_of[a]]
    genres = None
    if artists.num_rows:
        of = dict(zip(artists["artist_id"].to_pylist(), artists["genres"].to_pylist(), strict=True))
        genres = [frozenset(of.get(a) or ()) for a in ids]
    return vectors, genres


def _newest(lake: IcebergLake, dataset: str) -> pa.Table:
    """Each artist's row from the newest dt that has it."""
    table = lake.read_dataset(dataset)
    if not table.num_rows:
        return table
    table = table.sort_by([("artist_id", "ascending"), ("dt", "descending")])
    ids = table["artist_id"]
    first = pc.not_equal(ids[1:], ids[:-1]) if len(ids) > 1 else pa.array([], pa.bool_())
    keep = pa.concat_arrays([pa.array([True]), first.combine_chunks() if len(ids) > 1 else first])
    return table.filter(keep)


def evaluation_json(found: Evaluation) -> dict[str, Any]:
    """The JSON form of an evaluation (the CLI's --format json)."""
    return {
        "k": found.k,
        "holdout": found.holdout,
        "seed": found.seed,
        "users": found.users,
        "artists": found.artists,
        "pairs": found.pairs,
        "held_out": found.held_out,
        "methods": [
            {
                "method": r.method,
                f"recall@{found.k}": round(r.recall, 4),
                f"ndcg@{found.k}": round(r.ndcg, 4),
                f"genre_precision@{found.k}": None
                if r.genre_precision is None
                else round(r.genre_precision, 4),
                "uses_genres": r.uses_genres,
                "build_seconds": round(r.build_seconds, 3),
            }
            for r in found.results
        ],
        "skipped": found.skipped,
    }


# Neighbour lists per method, for the serving documents --------------------------------------


def method_of(settings: Settings, has_plays: bool) -> Method:
    """The configured similarity method; unset: hybrid when there are plays, else audio."""
    if settings.similarity_method is not None:
        return settings.similarity_method
    return "hybrid" if has_plays else "audio"


def with_related_by(
    settings: Settings,
    lake: IcebergLake,
    docs: list[dict[str, Any]],
    audio: pa.Table,
    vectors: pa.Table,
) -> list[dict[str, Any]]:
    """Add each document's `related_by` {audio, listening, hybrid} neighbour lists (the
    listening and hybrid ones from the last `recommend_days` of plays, among the documents'
    artists) and set `related_artists` to the configured method's. `audio` is the
    run's RELATED_ARTISTS rows, `vectors` its artist_vectors."""
    ids = sorted(d["artist_id"] for d in docs)
    since = datetime.now(UTC) - timedelta(days=settings.recommend_days)
    plays = read_plays(lake, since, None, ["user_id", "artist_id"])
    plays = plays.filter(pc.is_in(plays["artist_id"], pa.array(ids, pa.string())))
    lists: dict[str, Lists] = {"audio": _audio_lists(audio, vectors)}
    if plays.num_rows:
        lists.update(_listening_and_hybrid(settings, plays, ids, vectors, docs))
    chosen = method_of(settings, plays.num_rows > 0)
    by_id = {d["artist_id"]: d for d in docs}
    for doc in docs:
        related_by = {}
        for method, per_artist in lists.items():
            related_by[method] = [
                _entry(rank, b, score, distance, by_id[b])
                for rank, (b, score, distance) in enumerate(per_artist.get(doc["artist_id"], []), 1)
            ]
        doc["related_by"] = related_by
        if chosen != "audio" and chosen in related_by:  # audio: the run's own list stays
            doc["related_artists"] = [
                {k: v for k, v in e.items() if k != "score"} for e in related_by[chosen]
            ]
    return docs


def _entry(
    rank: int, artist_id: str, score: float, distance: float, doc: Mapping[str, Any]
) -> dict[str, Any]:
    """A related_by entry: a related_artists one (distance: Euclidean for audio, 1 - score
    for the others) plus the score recommendations add up."""
    return {
        "rank": rank,
        "artist_id": artist_id,
        "name": doc["name"],
        "image_url": doc.get("image_url"),
        "distance": float(distance),
        "score": round(float(score), 6),
    }


def _audio_lists(related: pa.Table, vectors: pa.Table) -> Lists:
    """Audio neighbours with score 1 - d / sqrt(D), as the hybrid scores them."""
    width = len(vectors["vector"][0]) if vectors.num_rows else 1
    lists: Lists = {}
    for row in related.sort_by([("artist_id", "ascending"), ("rank", "ascending")]).to_pylist():
        score = 1.0 - row["distance"] / math.sqrt(width)
        lists.setdefault(row["artist_id"], []).append(
            (row["related_artist_id"], score, row["distance"])
        )
    return lists


def _listening_and_hybrid(
    settings: Settings,
    plays: pa.Table,
    ids: list[str],
    vectors_table: pa.Table,
    docs: list[dict[str, Any]],
) -> dict[str, Lists]:
    matrix = UserArtists.from_plays(plays)
    # every document's artist has a column, played or not (cold start: audio + genres)
    played = matrix.artist_ids.to_pylist()
    column = np.searchsorted(np.array(ids, dtype=object), np.array(played, dtype=object))
    counts = matrix.counts.tocoo()
    full = UserArtists(
        matrix.user_ids,
        pa.array(ids, pa.string()),
        sp.csr_matrix(
            (counts.data, (counts.row, column[counts.col])), shape=(counts.shape[0], len(ids))
        ),
    )
    listening = listening_top_k(full, hybrid.CANDIDATES)
    vectors = np.full((len(ids), 1), np.nan)
    if vectors_table.num_rows:
        m = vector_matrix(vectors_table)
        row_of = {a: i for i, a in enumerate(vectors_table["artist_id"].to_pylist())}
        vectors = np.full((len(ids), m.shape[1]), np.nan)
        for i, a in enumerate(ids):
            if a in row_of:
                vectors[i] = m[row_of[a]]
    genre_of = {d["artist_id"]: frozenset(d.get("genres") or ()) for d in docs}
    genres = [genre_of[a] for a in ids]
    mixed = hybrid.hybrid_neighbours(
        ids, listening, full.listeners, vectors, genres, settings.similarity_k
    )
    return {
        "listening": _lists(ids, listening, settings.similarity_k),
        "hybrid": _lists(ids, mixed, settings.similarity_k),
    }


def _lists(ids: list[str], near: ScoredNeighbours, k: int) -> Lists:
    out: Lists = {}
    for a, (row, scores) in enumerate(zip(near.index[:, :k], near.score[:, :k], strict=True)):
        out[ids[a]] = [
            (ids[b], float(s), 1.0 - float(s)) for b, s in zip(row, scores, strict=True) if b >= 0
        ]
    return out


# A listener's recommendations ------------------------------------------------------------------


class Because(BaseModel):
    artist_id: str
    name: str | None


class RecommendedArtist(BaseModel):
    rank: int
    artist_id: str
    name: str | None
    """From the serving store; None for an artist it does not hold."""
    image_url: str | None = None
    score: float
    """Sum over the user's artists of log(1 + plays) x similarity; 0: popularity fallback."""
    because: list[Because]
    """The user's artists that led to it, most similar first (at most 3)."""


class UserRecommendations(BaseModel):
    user_id: str
    method: Method
    since: datetime
    """The plays counted are from this time on (recommend_days back)."""
    played_artists: int
    artists: list[RecommendedArtist]


def user_recommendations(
    settings: Settings,
    user_id: str,
    *,
    k: int = 10,
    method: Method | None = None,
    store: ServingStore | None = None,
    lake: IcebergLake | None = None,
    now: datetime | None = None,
) -> UserRecommendations:
    """Artists the user has not played (in the last recommend_days), scored from their plays
    through the serving documents' neighbour lists; popular artists fill up."""
    if not user_id or len(user_id) > 200:
        raise InputError("a user id is 1 to 200 characters")
    since = (now or datetime.now(UTC)) - timedelta(days=settings.recommend_days)
    lake = lake if lake is not None else reading_lake(settings)
    plays = read_plays(lake, since, None, ["user_id", "artist_id"])
    mine = plays.filter(pc.equal(plays["user_id"], user_id))
    if mine.num_rows == 0:
        raise NotFound(f"no plays of user {user_id!r} in the last {settings.recommend_days} days")
    history = _counts(mine)
    popularity = _counts(plays)
    chosen = method or method_of(settings, True)
    with _serving(settings, store) as serving:
        docs = serving.get_many(sorted(history))
        lists = {
            a: [(e["artist_id"], float(e["score"])) for e in _related(d, chosen)]
            for a, d in docs.items()
        }
        found = recommend(history, ItemNeighbours.from_neighbour_lists(lists), popularity, k)
        named = serving.get_many([r.artist_id for r in found])
        named.update({a: d for a, d in docs.items() if a not in named})
    return UserRecommendations(
        user_id=user_id,
        method=chosen,
        since=since,
        played_artists=len(history),
        artists=[
            RecommendedArtist(
                rank=i,
                artist_id=r.artist_id,
                name=(named.get(r.artist_id) or {}).get("name"),
                image_url=(named.get(r.artist_id) or {}).get("image_url"),
                score=round(r.score, 6),
                because=[
                    Because(artist_id=a, name=(named.get(a) or {}).get("name")) for a in r.because
                ],
            )
            for i, r in enumerate(found, 1)
        ],
    )


def _related(doc: Mapping[str, Any], method: Method) -> list[dict[str, Any]]:
    """A document's neighbours by method, with scores (documents published before related_by
    existed: related_artists, scored 1 / (1 + distance))."""
    related_by = doc.get("related_by") or {}
    if method in related_by:
        return list(related_by[method])
    return [
        {"artist_id": r["artist_id"], "score": 1.0 / (1.0 + r["distance"])}
        for r in doc.get("related_artists") or ()
    ]


def _serving(
    settings: Settings, store: ServingStore | None
) -> AbstractContextManager[ServingStore]:
    return nullcontext(store) if store is not None else reading_serving(settings)


def _counts(plays: pa.Table) -> dict[str, int]:
    counted = plays.group_by("artist_id").aggregate([([], "count_all")])
    return dict(
        zip(counted["artist_id"].to_pylist(), counted["count_all"].to_pylist(), strict=True)
    )


def similar_by(
    settings: Settings, artist_id: str, method: Method, *, store: ServingStore | None = None
) -> list[dict[str, Any]]:
    """An artist's neighbours by one method, from its serving document."""
    with _serving(settings, store) as serving:
        doc = serving.get(artist_id)
    if doc is None:
        raise NotFound(f"no artist {artist_id!r} in the serving store")
    related_by = doc.get("related_by") or {}
    if method not in related_by:
        if method != "audio":
            raise NotFound(
                f"artist {artist_id!r} has no {method} neighbours: the pipeline publishes "
                "them when the lake holds plays"
            )
        return [
            {**r, "score": 1.0 / (1.0 + r["distance"])} for r in doc.get("related_artists") or ()
        ]
    return list(related_by[method])


def hybrid_view(doc: ArtistDocument) -> ArtistDocument:
    """The document with the hybrid neighbours as related_artists (what the chatbot and the
    dashboard show, whatever the configured method), when it has them."""
    hybrid = ((doc.model_extra or {}).get("related_by") or {}).get("hybrid")
    if not hybrid:
        return doc
    return doc.model_copy(update={"related_artists": _RELATED.validate_python(hybrid)})
