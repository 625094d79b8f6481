"""The listening use cases over a real lake and serving store: play counts in the daily
pipeline's artist documents, and the trending list published and read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

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
