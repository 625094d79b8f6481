"""The listening use cases over a real lake and serving store: play counts in the daily
pipeline's artist documents, and the trending list published and read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from tests.conftest import REDIS_EVENTS
from tests.plays_table import append_plays, many, plays
from tunelake import app
from tunelake.config import Settings, load_settings
from tunelake.errors import NotFound
from tunelake.listening import TRENDING, play_counts
from tunelake.pipeline.resources import lake_of, reading_serving

DT = date(2026, 11, 26)
MIDNIGHT = datetime(2026, 11, 26, tzinfo=UTC)  # the start of DT
DAY = timedelta(days=1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home", catalog_artists=20, trending_min_plays=3)


def test_play_counts_of_a_dt_and_its_week(settings: Settings) -> None:
    lake = lake_of(settings)
    assert play_counts(lake, DT) == {}  # no plays table yet: no plays, no error
    rows = many("a", MIDNIGHT, 2) + many("a", MIDNIGHT + DAY - timedelta(microseconds=1), 1)
    rows += many("a", MIDNIGHT - 6 * DAY, 4)  # the first day of the 7 ending with DT
    rows += many("a", MIDNIGHT - 7 * DAY, 8) + many("a", MIDNIGHT + DAY, 16)  # outside
    rows += many("b", MIDNIGHT - DAY, 5)
    append_plays(lake, plays(rows))
    assert play_counts(lake, DT) == {"a": {"dt": 3, "7d": 7}, "b": {"dt": 0, "7d": 5}}


def test_a_runs_artist_documents_carry_their_plays(settings: Settings) -> None:
    app.run(settings, dt=DT)  # a first run to learn the catalog's artist ids
    lake = lake_of(settings)
    artists = lake.read_partition("artists", DT)
    assert artists is not None
    played = sorted(artists["artist_id"].to_pylist())[0]
    append_plays(lake, plays(many(played, MIDNIGHT + timedelta(hours=5), 4)))
    app.run(settings, dt=DT)
    with reading_serving(settings) as store:
        docs = store.get_many(artists["artist_id"].to_pylist())
    assert docs[played]["plays"] == {"dt": 4, "7d": 4}
    others = [d["plays"] for i, d in docs.items() if i != played]
    assert others and all(p == {"dt": 0, "7d": 0} for p in others)


def test_trending_is_published_and_read_back(settings: Settings) -> None:
    app.run(settings, dt=DT)
    with pytest.raises(NotFound, match="no trending artists published yet"):
        app.trending_artists(settings)
    now = datetime.now(UTC)
    empty = app.publish_trending(settings, now=now)  # no plays: an empty list, not an error
    assert empty.artists == []
    assert app.trending_artists(settings) == empty
    append_plays(lake_of(settings), plays(many("x", now - timedelta(minutes=5), 3)))
    published = app.publish_trending(settings, now=now)
    assert [(a.artist_id, a.plays, a.rank) for a in published.artists] == [("x", 3, 1)]
    assert app.trending_artists(settings) == published
    with reading_serving(settings) as store:
        assert store.get_list(TRENDING) == published.model_dump(mode="json")


@pytest.mark.services
@pytest.mark.timeout(120)
def test_simulated_plays_end_to_end_agree_with_sql(
    redis_events_stream: str, tmp_path: Path
) -> None:
    """Simulator → the machine's Redis Streams → the consumer → plays; the daily counts and
    the trending list agree with `tunelake sql` over the same table."""
    settings = load_settings(
        home=tmp_path / "home",
        events_url=REDIS_EVENTS,
        events_stream=redis_events_stream,
        trending_min_plays=3,
    )
    app.events_produce(settings, count=3_000, seed=3)
    app.events_consume(settings, until_idle=1)
    now = datetime.now(UTC)
    by_sql = app.sql(
        settings,
        "SELECT artist_id, CAST(ts AS DATE) AS day, COUNT(*) FROM plays GROUP BY ALL",
    ).rows
    days = sorted({day for _, day, _ in by_sql})
    for day in days:
        app.write_play_counts(settings, day, "day")
    daily = app.sql(settings, "SELECT artist_id, dt, plays FROM artist_daily_plays").rows
    assert sorted(daily) == sorted(by_sql)

    published = app.publish_trending(settings, now=now)
    assert published.artists  # a fresh stream: every artist with 3 plays or more trends
    hour = app.sql(
        settings,
        f"SELECT artist_id, COUNT(*) FROM plays WHERE ts >= TIMESTAMPTZ '{now - timedelta(hours=1)}'"
        f" AND ts < TIMESTAMPTZ '{now}' GROUP BY ALL",
    ).rows
    in_hour = dict(hour)
    assert all(in_hour[a.artist_id] == a.plays >= 3 for a in published.artists)
    scores = [a.score for a in published.artists]
    assert scores == sorted(scores, reverse=True)


def test_the_listening_hours_have_no_gaps(settings: Settings) -> None:
    now = datetime(2026, 12, 5, 13, 30, tzinfo=UTC)
    rows = many("a", now - timedelta(hours=3), 2) + many("b", now - timedelta(minutes=10), 5)
    append_plays(lake_of(settings), plays(rows))
    app.run(settings, dt=DT)  # the serving store the names come from
    seen = app.listening(settings, now=now)
    hours = [c.start for c in seen.per_hour]
    assert hours[0] == datetime(2026, 12, 4, 13, tzinfo=UTC) and hours[-1] == now.replace(minute=0)
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(hours))
    counted = {c.start.hour: c.plays for c in seen.per_hour if c.plays}
    assert counted == {10: 2, 13: 5}
    assert [(t.rank, t.artist_id, t.plays, t.name) for t in seen.top] == [
        (1, "b", 5, None),
        (2, "a", 2, None),
    ]
    assert seen.trending is None
