"""Plays per artist per hour and day, and the trending rule, over small tables of plays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.plays_table import many, plays
from tunelake.engines.listening import TrendingRule, per_artist, per_period, trending

NOW = datetime(2026, 12, 5, 13, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_plays_per_artist_per_hour_and_day() -> None:
    table = plays(
        [
            ("a", datetime(2026, 12, 4, 23, 59, tzinfo=UTC)),
            ("a", datetime(2026, 12, 5, 0, 1, tzinfo=UTC)),
            ("a", datetime(2026, 12, 5, 0, 59, tzinfo=UTC)),
            ("b", datetime(2026, 12, 5, 0, 30, tzinfo=UTC)),
            ("a", datetime(2026, 12, 5, 7, 0, tzinfo=UTC)),
        ]
    )
    hourly = per_artist(table, "hour").to_pylist()
    assert hourly == [
        {"artist_id": "a", "hour": datetime(2026, 12, 4, 23, tzinfo=UTC), "plays": 1},
        {"artist_id": "a", "hour": datetime(2026, 12, 5, 0, tzinfo=UTC), "plays": 2},
        {"artist_id": "b", "hour": datetime(2026, 12, 5, 0, tzinfo=UTC), "plays": 1},
        {"artist_id": "a", "hour": datetime(2026, 12, 5, 7, tzinfo=UTC), "plays": 1},
    ]
    daily = per_artist(table, "day").to_pylist()
    assert daily == [
        {"artist_id": "a", "day": datetime(2026, 12, 4, tzinfo=UTC), "plays": 1},
        {"artist_id": "a", "day": datetime(2026, 12, 5, tzinfo=UTC), "plays": 3},
        {"artist_id": "b", "day": datetime(2026, 12, 5, tzinfo=UTC), "plays": 1},
    ]


def test_an_artist_played_above_its_usual_rate_trends() -> None:
    rows = []
    for hours_ago in range(2, 49):  # two days of history: steady and rising alike at 10/h
        rows += many("steady", NOW - hours_ago * HOUR, 10)
        rows += many("rising", NOW - hours_ago * HOUR, 10)
    rows += many("steady", NOW - HOUR / 2, 10)
    rows += many("rising", NOW - HOUR / 2, 40)
    rows += many("new", NOW - HOUR / 4, 12)  # never played before
    rows += many("few", NOW - HOUR / 4, 3)  # new too, but below the minimum count
    rows += many("future", NOW + HOUR / 4, 50)  # clock skew: not in the window
    found = trending(plays(rows), NOW)
    assert [t.artist_id for t in found] == ["new", "rising"]
    new, rising = found
    assert new.plays == 12 and new.usual == 0
    assert new.score == pytest.approx(17 / 5)
    # The baseline covers what the plays hold (47 hours), not the whole 7 days.
    assert rising.usual == pytest.approx(10)
    assert rising.score == pytest.approx(45 / 15)


def test_a_young_table_compares_against_the_hours_it_has() -> None:
    rows = many("a", NOW - 90 * timedelta(minutes=1), 20) + many("a", NOW - HOUR / 2, 40)
    (trend,) = trending(plays(rows), NOW)
    # 20 plays in the half hour before the window (all the history there is) count as one
    # window's worth, not as 20 plays over 7 days
    assert trend.usual == pytest.approx(20)
    assert trend.score == pytest.approx(45 / 25)
    flat = many("a", NOW - 90 * timedelta(minutes=1), 20) + many("a", NOW - HOUR / 2, 20)
    assert trending(plays(flat), NOW) == []


def test_ties_and_the_top_bound() -> None:
    rows = many("b", NOW - HOUR / 2, 10) + many("a", NOW - HOUR / 2, 10)
    rows += many("c", NOW - HOUR / 2, 20)
    found = trending(plays(rows), NOW, TrendingRule(top=2))
    assert [t.artist_id for t in found] == ["c", "a"]


def test_no_plays_no_trends() -> None:
    assert trending(plays([]), NOW) == []
    assert per_artist(plays([]), "hour").num_rows == 0


def test_plays_of_every_artist_per_hour() -> None:
    at = datetime(2026, 12, 5, 9, 10, tzinfo=UTC)
    table = plays(many("a", at, 2) + many("b", at, 3) + many("a", at + HOUR, 1))
    assert per_period(table, "hour").to_pylist() == [
        {"hour": datetime(2026, 12, 5, 9, tzinfo=UTC), "plays": 5},
        {"hour": datetime(2026, 12, 5, 10, tzinfo=UTC), "plays": 1},
    ]
