"""The listening use cases (re-exported by `tunelake.app`): plays per artist over time, the
trending artists computed from `plays` and published to the serving store, and what the
dashboard's Listening page shows. The computations are `tunelake.engines.listening`'s; this
module reads the plays, names the artists from the serving store and bounds the requests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from tunelake.config import Settings
from tunelake.engines.listening import (
    Grain,
    Trend,
    TrendingRule,
    per_artist,
    per_period,
    total_per_artist,
    trending,
)
from tunelake.errors import InputError, NotFound
from tunelake.events.table import read_plays
from tunelake.pipeline.resources import lake_of, reading_lake, reading_serving, serving_of
from tunelake.storage.lake.iceberg_lake import IcebergLake
from tunelake.storage.serving.port import ServingStore

T = TypeVar("T")

TRENDING = "trending"
"""The serving store's list of trending artists."""
PLAY_COUNTS: dict[Grain, str] = {"day": "artist_daily_plays", "hour": "artist_hourly_plays"}
"""The lake datasets of plays per artist per day and per hour (a dt per UTC day)."""
MAX_RANGE = timedelta(days=92)
"""The longest range /artists/{id}/plays answers: a quarter, by day."""
HOURLY_UP_TO = timedelta(days=2)
"""Ranges up to this long are counted per hour, longer ones per day."""
DEFAULT_RANGE = timedelta(hours=24)
TOP_ARTISTS = 10
PLAY_COUNT_DAYS = 7
NO_PLAYS = {"dt": 0, "7d": 0}


class PlayCount(BaseModel):
    start: datetime
    """The hour's or day's start (UTC)."""
    plays: int


class ArtistPlays(BaseModel):
    artist_id: str
    start: datetime
    end: datetime
    """Exclusive."""
    grain: Grain
    total: int
    counts: list[PlayCount]
    """Only the hours or days with plays."""


class RankedArtist(BaseModel):
    rank: int
    artist_id: str
    name: str | None
    """From the serving store; None for an artist the daily pipeline has not published."""
    image_url: str | None = None
    plays: int


class TrendingArtist(RankedArtist):
    usual_plays: float
    """Its plays per window over the baseline before the window."""
    score: float
    """(plays + smoothing) / (usual_plays + smoothing): see tunelake.engines.listening."""


class Trending(BaseModel):
    computed_at: datetime
    window_minutes: int
    baseline_hours: float
    artists: list[TrendingArtist]


class Listening(BaseModel):
    """The dashboard's Listening page: the last hours' plays, top and trending artists."""

    start: datetime
    end: datetime
    per_hour: list[PlayCount]
    """Every hour from start's to end's, with no plays too."""
    top: list[RankedArtist]
    trending: Trending | None
    """None until a trending list is published."""


def rule_of(settings: Settings) -> TrendingRule:
    return TrendingRule(
        window=timedelta(minutes=settings.trending_window_minutes),
        baseline=timedelta(hours=settings.trending_baseline_hours),
        min_plays=settings.trending_min_plays,
        top=settings.trending_top,
    )


def _given_or(
    given: T | None, opening: Callable[[], AbstractContextManager[T]]
) -> AbstractContextManager[T]:
    return nullcontext(given) if given is not None else opening()


def _lake(settings: Settings, lake: IcebergLake | None) -> IcebergLake:
    return lake if lake is not None else reading_lake(settings)


def _plays(lake: IcebergLake, start: datetime, end: datetime) -> pa.Table:
    """The artist and time of the plays with start <= ts < end (none before the consumer
    made the table): all any count here needs."""
    return read_plays(lake, start, end, ["artist_id", "ts"])


def _names(store: ServingStore, ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
    docs = store.get_many(ids)
    return {i: {"name": d.get("name"), "image_url": d.get("image_url")} for i, d in docs.items()}


def compute_trending(
    settings: Settings,
    store: ServingStore,
    *,
    now: datetime | None = None,
    lake: IcebergLake | None = None,
) -> Trending:
    """The trending artists at now (default: the current time), named from store."""
    now = now or datetime.now(UTC)
    rule = rule_of(settings)
    trends: list[Trend] = trending(_plays(_lake(settings, lake), rule.start(now), now), now, rule)
    names = _names(store, [t.artist_id for t in trends])
    artists = [
        TrendingArtist(
            rank=rank,
            artist_id=t.artist_id,
            **names.get(t.artist_id, {"name": None}),
            plays=t.plays,
            usual_plays=round(t.usual, 3),
            score=round(t.score, 3),
        )
        for rank, t in enumerate(trends, 1)
    ]
    return Trending(
        computed_at=now,
        window_minutes=settings.trending_window_minutes,
        baseline_hours=settings.trending_baseline_hours,
        artists=artists,
    )


def publish_trending(
    settings: Settings,
    *,
    now: datetime | None = None,
    lake: IcebergLake | None = None,
    store: ServingStore | None = None,
) -> Trending:
    """Compute the trending artists and replace the serving store's list with them."""
    with _given_or(store, lambda: closing(serving_of(settings))) as store:
        found = compute_trending(settings, store, now=now, lake=lake)
        store.put_list(TRENDING, found.model_dump(mode="json"))
    return found


def trending_artists(settings: Settings, *, store: ServingStore | None = None) -> Trending:
    """The trending list last published (one key read). NotFound until one is."""
    with _given_or(store, lambda: reading_serving(settings)) as store:
        published = store.get_list(TRENDING)
    if published is None:
        raise NotFound(
            "no trending artists published yet: the automation publishes them "
            "(`tunelake orchestrate`) once plays arrive"
        )
    return Trending.model_validate(published)


def _utc(moment: datetime) -> datetime:
    """A time without an offset is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def plays_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The range a request names (default: the 24 hours before now), checked."""
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - DEFAULT_RANGE
    if start >= end:
        raise InputError(f"from ({start.isoformat()}) must be before to ({end.isoformat()})")
    if end - start > MAX_RANGE:
        raise InputError(
            f"from {start.isoformat()} to {end.isoformat()} is longer than "
            f"{MAX_RANGE.days} days: ask for a shorter range"
        )
    return start, end


def artist_plays(
    settings: Settings,
    artist_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    lake: IcebergLake | None = None,
) -> ArtistPlays:
    """An artist's plays per hour (ranges up to 2 days) or per day, from start to end
    (exclusive; default the last 24 hours)."""
    start, end = plays_range(start, end)
    grain: Grain = "hour" if end - start <= HOURLY_UP_TO else "day"
    plays = _plays(_lake(settings, lake), start, end)
    mine = plays.filter(pc.equal(plays["artist_id"], artist_id))
    counts = [
        PlayCount(start=row[grain], plays=row["plays"])
        for row in per_period(mine, grain).to_pylist()
    ]
    return ArtistPlays(
        artist_id=artist_id,
        start=start,
        end=end,
        grain=grain,
        total=mine.num_rows,
        counts=counts,
    )


def listening(
    settings: Settings,
    *,
    hours: int = 24,
    now: datetime | None = None,
    lake: IcebergLake | None = None,
    store: ServingStore | None = None,
) -> Listening:
    """Plays per hour over the last `hours`, the most played artists then, and the trending
    list last published."""
    end = now or datetime.now(UTC)
    start = end - timedelta(hours=hours)
    plays = _plays(_lake(settings, lake), start, end)
    counted = {row["hour"]: row["plays"] for row in per_period(plays, "hour").to_pylist()}
    first = start.replace(minute=0, second=0, microsecond=0)
    axis = [first + timedelta(hours=i) for i in range(hours + 1)]  # the chart's: no gaps
    per_hour = [PlayCount(start=h, plays=counted.get(h, 0)) for h in axis if h < end]
    totals = sorted(total_per_artist(plays).items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ARTISTS]
    with _given_or(store, lambda: reading_serving(settings)) as store:
        names = _names(store, [artist_id for artist_id, _ in totals])
        try:
            current = trending_artists(settings, store=store)
        except NotFound:
            current = None
    top = [
        RankedArtist(
            rank=rank, artist_id=artist_id, **names.get(artist_id, {"name": None}), plays=n
        )
        for rank, (artist_id, n) in enumerate(totals, 1)
    ]
    return Listening(start=start, end=end, per_hour=per_hour, top=top, trending=current)


def write_play_counts(
    settings: Settings, day: date, grain: Grain, *, lake: IcebergLake | None = None
) -> int:
    """Replace partition `day` of the lake dataset PLAY_COUNTS[grain] (artist_id, [hour,]
    plays; a view in `tunelake sql` like the other datasets) with each artist's plays on that
    UTC day, per day or per hour. Returns the rows written."""
    lake = lake if lake is not None else lake_of(settings)
    start = datetime.combine(day, time(), UTC)
    counts = per_artist(_plays(lake, start, start + timedelta(days=1)), grain)
    if grain == "day":
        counts = counts.drop_columns(["day"])  # the partition's dt says it
    lake.write_partition(PLAY_COUNTS[grain], day, counts)
    return counts.num_rows


def play_counts(lake: IcebergLake, dt: date) -> dict[str, dict[str, int]]:
    """For the daily artist documents: each artist's plays on dt and in the 7 days ending
    with dt (UTC days), e.g. {"a1": {"dt": 12, "7d": 80}}."""
    end = datetime.combine(dt + timedelta(days=1), time(), UTC)
    start = end - timedelta(days=PLAY_COUNT_DAYS)
    plays = _plays(lake, start, end)
    week = total_per_artist(plays)
    day = per_artist(plays, "day")
    on_dt = day.filter(pc.equal(day["day"], end - timedelta(days=1)))
    today = dict(zip(on_dt["artist_id"].to_pylist(), on_dt["plays"].to_pylist(), strict=True))
    return {a: {"dt": today.get(a, 0), "7d": n} for a, n in week.items()}


__all__ = [
    "ArtistPlays",
    "Listening",
    "PlayCount",
    "RankedArtist",
    "Trending",
    "TrendingArtist",
    "artist_plays",
    "compute_trending",
    "listening",
    "play_counts",
    "plays_range",
    "publish_trending",
    "trending_artists",
    "write_play_counts",
]
