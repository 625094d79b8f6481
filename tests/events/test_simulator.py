"""The simulator: deterministic, with tastes, rhythm and the faults producers have."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import orjson

from tunelake.events.simulator import FAVOURITE_ARTISTS, Faults, Produced, Simulator
from tunelake.events.validate import Invalid, parse_line

START = datetime(2026, 12, 1, tzinfo=UTC)


def _lines(
    seed: int, count: int, faults: Faults | None = None, rate: float = 50.0
) -> tuple[list[bytes], Produced]:
    produced = Produced()
    sim = Simulator(
        seed=seed, start=START, rate=rate, users=50, catalog_artists=200, faults=faults or Faults()
    )
    return [line for chunk in sim.lines(count, produced) for line in chunk], produced


def test_the_same_seed_gives_the_same_events() -> None:
    assert _lines(1, 3000)[0] == _lines(1, 3000)[0]
    assert _lines(1, 3000)[0] != _lines(2, 3000)[0]


def test_faults_are_injected_and_counted() -> None:
    lines, produced = _lines(3, 20_000, Faults(duplicate=0.02, late=0.02, malformed=0.01))
    assert produced.events == len(lines) == 20_000
    bad = 0
    for line in lines:
        try:
            parse_line(line)
        except Invalid:
            bad += 1
    assert bad == produced.malformed > 0
    repeated = sum(n - 1 for n in Counter(lines).values() if n > 1)
    assert repeated == produced.duplicates > 0
    events = [orjson.loads(line) for line in lines if line.startswith(b"{") and line.endswith(b"}")]
    ts = [datetime.fromisoformat(e["ts"]) for e in events if "ts" in e]
    late = sum(1 for t in ts if t < START)  # hours before the simulation started
    assert 0 < produced.late <= late <= produced.late + produced.duplicates


def test_users_favour_their_artists_and_sleep_at_night() -> None:
    # 24 simulated hours at 0.5 events a second
    lines, _ = _lines(4, 43_200, Faults(0, 0, 0), rate=0.5)
    events = [orjson.loads(line) for line in lines]
    by_user: dict[str, Counter[str]] = {}
    for e in events:
        by_user.setdefault(e["user_id"], Counter())[e["artist_id"]] += 1
    share = [
        sum(c for _, c in plays.most_common(FAVOURITE_ARTISTS)) / plays.total()
        for plays in by_user.values()
    ]
    assert sum(share) / len(share) > 0.5  # a few artists take most of a user's plays
    europe = ("SE", "DE", "FR", "IT", "ES")  # UTC+1 in the simulator
    hours = Counter(
        (datetime.fromisoformat(e["ts"]).hour + 1) % 24 for e in events if e["country"] in europe
    )
    assert hours[4] < hours[20]  # Europe: fewer plays at 4 am than at 8 pm local time
