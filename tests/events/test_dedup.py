"""The duplicate filter: within a batch, against the lake, across days, after eviction."""

from __future__ import annotations

from datetime import date

from tunelake.events.dedup import MICROS_A_DAY, SeenIds
from tunelake.events.validate import event_key


def _id(n: int) -> str:
    return f"0190a000-0000-7000-8000-{n:012d}"


def test_duplicates_are_dropped_within_a_batch_across_batches_and_against_the_lake() -> None:
    day = date(2026, 12, 1)
    loaded: list[date] = []

    def load(d: date) -> list[str]:
        loaded.append(d)
        return [_id(1)] if d == day else []

    seen = SeenIds(load, days=1)
    micros = (day - date(1970, 1, 1)).days * MICROS_A_DAY
    keys = [event_key(_id(n)) for n in (1, 2, 2, 3)]
    assert seen.fresh(keys, [micros] * 4).tolist() == [1, 3]  # 1 in the lake, the second 2 repeated
    assert seen.fresh([event_key(_id(3)), event_key(_id(4))], [micros] * 2).tolist() == [1]
    assert loaded == [day]  # loaded once
    # another day evicts this one (days=1); coming back reloads it from the lake
    assert seen.fresh([event_key(_id(3))], [micros + MICROS_A_DAY]).tolist() == [0]
    assert seen.fresh([event_key(_id(1))], [micros]).tolist() == []
    assert loaded == [day, date(2026, 12, 2), day]


def test_ids_sharing_a_half_never_collide() -> None:
    keys = {event_key(f"{a:08x}-0000-7000-8000-{b:012x}") for a in range(50) for b in range(50)}
    assert len(keys) == 2500
