"""The column-wise decoder against the line-by-line reference (`parse_line`): the same events
accepted, in arrival order, the same lines rejected with the same reasons, whatever mix of bad
lines breaks Arrow's reader (not JSON, wrong types, two objects on a line, bad UTF-8)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pytest

from tunelake.events import validate
from tunelake.events.schema import PLAY_SCHEMA
from tunelake.events.simulator import Faults, Simulator
from tunelake.events.validate import Invalid, event_key, event_keys, parse, parse_line

GOOD = {
    "event_id": "0190a000-0000-7000-8000-000000000001",
    "user_id": "user-1",
    "session_id": "user-1-0",
    "track_id": "track1",
    "artist_id": "artist1",
    "ts": "2026-12-01T10:00:00.123456Z",
    "ms_played": 1000,
    "skipped": False,
    "context": "album",
    "device": "mobile",
    "country": "KR",
}


def _line(n: int, **changes: object) -> bytes:
    return orjson.dumps(GOOD | {"event_id": f"0190a000-0000-7000-8000-{n:012d}"} | changes)


ODD = [
    b'{"event_id": "0190a000',  # not JSON
    b"[1, 2]",  # not an object
    _line(1, ms_played="long"),  # a string where Arrow expects a number (names the row)
    _line(2, ms_played=2.5),  # a number Arrow cannot convert (names no row)
    _line(3, ms_played=-1),
    _line(4, country="Neverland"),
    _line(5, country="KR\n"),
    _line(6, context="tv"),
    _line(7, user_id=""),
    _line(8, user_id=12),
    _line(9, skipped=1),
    _line(10, track_id=None),
    _line(11, ts="2026-12-01T10:00:00"),  # no offset
    _line(12, ts="2026-02-30T10:00:00Z"),  # no such day
    _line(13, ts="2026-12-01 19:00:00+09:00"),  # accepted: parse_line reads this layout too
    _line(14, event_id="0190A000-0000-7000-8000-00000000000E"),  # upper case: a UUID
    _line(15, event_id="not-a-uuid"),
    _line(16) + b" " + _line(17),  # two objects on one line
    b'{"event_id": "\xff"}',  # not UTF-8
    _line(18, artist_id="a" * 201),
    orjson.dumps({k: v for k, v in GOOD.items() if k != "device"}),
]


def _reference(batch: list[tuple[int, bytes]]) -> tuple[list[dict[str, object]], list[tuple]]:
    good, bad = [], []
    for position, data in batch:
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                event, micros = parse_line(line)
            except Invalid as exc:
                bad.append((position, line.decode("utf-8", "replace"), str(exc)))
                continue
            good.append(event | {"ts": datetime.fromtimestamp(micros / 1e6, UTC)})
    return good, bad


def _same(batch: list[tuple[int, bytes]]) -> None:
    parsed = parse(batch)
    good, bad = _reference(batch)
    assert parsed.plays.schema == PLAY_SCHEMA
    assert parsed.plays.to_pylist() == good
    assert parsed.rejected == bad


def test_bad_lines_anywhere_give_what_the_reference_gives() -> None:
    good = [_line(100 + i) for i in range(40)]
    batch = [(1, b"\n".join(good[:20])), (2, b"\n".join(ODD)), (3, b"\n".join(good[20:]))]
    _same(batch)
    mixed = [line for pair in zip(good, ODD, strict=False) for line in pair]
    _same([(7, b"\n\n".join(mixed) + b"\n"), (8, b"   \n" + good[0])])
    assert len(parse(batch).rejected) == 19  # all of ODD but the space and upper-case ones


def test_a_batch_decoded_in_slices_gives_what_the_reference_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(validate, "_SLICE_BYTES", 300)  # a slice every message or two
    good = [_line(200 + i) for i in range(12)]
    _same([(i + 1, line) for i, line in enumerate(good[:6] + ODD + good[6:])])


def test_empty_and_blank_messages_hold_no_event() -> None:
    _same([(1, b""), (2, b"\n \n\t"), (3, good := _line(1)), (4, b"\n" + good + b"\n")])
    assert parse([(1, b""), (2, b"  ")]).plays.num_rows == 0


def test_a_simulated_batch_decodes_as_the_reference_and_keys_match() -> None:
    simulator = Simulator(
        seed=3,
        start=datetime(2026, 12, 1, tzinfo=UTC),
        rate=1000.0,
        faults=Faults(duplicate=0.01, late=0.01, malformed=0.01),
    )
    lines = [line for chunk in simulator.lines(5_000) for line in chunk]
    batch = [(i + 1, b"\n".join(lines[i * 100 : (i + 1) * 100])) for i in range(50)]
    _same(batch)
    ids = parse(batch).plays.column("event_id")
    assert event_keys(ids).tolist() == [event_key(i) for i in ids.to_pylist()]
    uuid = str(GOOD["event_id"])
    assert event_keys(pa.array(["e1", uuid])).tolist() == [event_key(uuid)]
