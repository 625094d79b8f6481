"""What listening looks like, computed over plays (rows of `tunelake.events.schema.PLAY_SCHEMA`,
at least `artist_id` and `ts`): plays per artist per hour or day, and trending artists.

**Trending.** An artist trends when it is played more in the last window (an hour by default)
than it usually is. Its usual rate is its plays per window over the baseline before the
window (7 days by default, or as much of it as the plays read cover, so that a young table
does not divide by days it never had). Its score is a smoothed ratio

    score = (plays in the window + s) / (usual plays per window + s)

with `s` (5 plays) keeping a handful of plays over a near-zero usual rate from dominating:
an artist going from 0 to 6 plays scores 11/5 = 2.2, one going from 100 to 300 scores
305/105 = 2.9. Artists with fewer than `min_plays` in the window, or a score not above 1
(played no more than usual), never trend. Ties: more plays first, then artist_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

Grain = Literal["hour", "day"]


@dataclass(frozen=True)
class TrendingRule:
    window: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(days=7)
    smoothing: float = 5.0
    min_plays: int = 10
    top: int = 20

    def start(self, now: datetime) -> datetime:
        """The earliest play the rule looks at."""
        return now - self.window - self.baseline


@dataclass(frozen=True)
class Trend:
    artist_id: str
    plays: int
    """Plays in the window."""
    usual: float
    """Plays per window over the baseline."""
    score: float


def per_artist(plays: pa.Table, grain: Grain) -> pa.Table:
    """Plays per artist per hour or day: columns artist_id, <grain> (the bucket's start,
    a UTC timestamp), plays; ordered by bucket, then artist_id."""
    return _per_bucket(plays, grain, ["artist_id"])


def per_period(plays: pa.Table, grain: Grain) -> pa.Table:
    """Plays of every artist together per hour or day: columns <grain>, plays; by bucket."""
    return _per_bucket(plays, grain, [])


def _per_bucket(plays: pa.Table, grain: Grain, keys: list[str]) -> pa.Table:
    columns = {key: plays[key] for key in keys}
    columns[grain] = pc.floor_temporal(plays["ts"], unit=grain)
    counted = (
        pa.table(columns)
        .group_by([*keys, grain])
        .aggregate([([], "count_all")])
        .rename_columns([*keys, grain, "plays"])
    )
    return counted.sort_by([(grain, "ascending"), *((k, "ascending") for k in keys)])


def total_per_artist(plays: pa.Table) -> dict[str, int]:
    counted = plays.group_by("artist_id").aggregate([([], "count_all")])
    return dict(
        zip(counted["artist_id"].to_pylist(), counted["count_all"].to_pylist(), strict=True)
    )


def trending(plays: pa.Table, now: datetime, rule: TrendingRule = TrendingRule()) -> list[Trend]:
    """The trending artists at `now` (see the module's note), best first, at most rule.top."""
    window_start = now - rule.window
    ts = plays["ts"]
    recent = plays.filter(pc.and_(pc.greater_equal(ts, window_start), pc.less(ts, now)))
    before = plays.filter(pc.and_(pc.greater_equal(ts, rule.start(now)), pc.less(ts, window_start)))
    first = pc.min(before["ts"]).as_py() if before.num_rows else window_start
    covered = max(window_start - max(first, rule.start(now)), rule.window)
    windows = covered / rule.window
    usual_of = total_per_artist(before)
    trends = []
    for artist_id, n in total_per_artist(recent).items():
        usual = usual_of.get(artist_id, 0) / windows
        score = (n + rule.smoothing) / (usual + rule.smoothing)
        if n >= rule.min_plays and score > 1:
            trends.append(Trend(artist_id, n, usual, score))
    trends.sort(key=lambda t: (-t.score, -t.plays, t.artist_id))
    return trends[: rule.top]
