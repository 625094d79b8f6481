"""From broker messages to rows of `plays` and rejects of `quarantine_plays`.

A message is a batch of events, one JSON object a line. Each line is checked on its own: a bad
line is quarantined (its raw text and the reason), the others go on. Checks: JSON object, every
curated field present, event_id a UUID, ids non-empty text, ts ISO 8601 with an offset,
ms_played an integer in [0, 24 h), skipped a boolean, context one of CONTEXTS, device text,
country two capital letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa

from tunelake.events.schema import CONTEXTS, PLAY_SCHEMA

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_TEXT = ("user_id", "session_id", "track_id", "artist_id", "device")
_MS_DAY = 86_400_000
_M64 = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Invalid(ValueError):
    pass


@dataclass
class Parsed:
    """One batch's good events, column-wise, and its rejects."""

    columns: dict[str, list[object]] = field(
        default_factory=lambda: {name: [] for name in PLAY_SCHEMA.names}
    )
    keys: list[int] = field(default_factory=list)
    """A 64-bit key per good event (from its event_id) for duplicate detection."""
    positions: list[int] = field(default_factory=list)
    """The broker position of each good event's message."""
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    """(position, raw line, reason) of each bad line."""

    def table(self, keep: list[int] | None = None) -> pa.Table:
        """The good events as PLAY_SCHEMA columns (only the rows at `keep`, if given)."""
        arrays = []
        for f in PLAY_SCHEMA:
            values = self.columns[f.name]
            if keep is not None:
                values = [values[i] for i in keep]
            arrays.append(pa.array(values, f.type))
        return pa.Table.from_arrays(arrays, schema=PLAY_SCHEMA)


def event_key(event_id: str) -> int:
    """A 64-bit key of a UUID text: its two halves mixed (distinct ids collide with odds
    about 2**-64 per pair; ids that share one half never do)."""
    value = int(event_id.replace("-", ""), 16)
    return ((value >> 64) ^ ((value & _M64) * _MIX)) & _M64


def parse_line(line: bytes) -> tuple[dict[str, object], int]:
    """The checked event and its ts in microseconds since the epoch; Invalid says why not."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise Invalid(f"not a JSON object but {type(event).__name__}")
    missing = [name for name in PLAY_SCHEMA.names if name not in event]
    if missing:
        raise Invalid(f"missing field(s) {', '.join(missing)}")
    event_id = event["event_id"]
    if not isinstance(event_id, str) or not _UUID.match(event_id):
        raise Invalid(f"event_id {event_id!r} is not a UUID")
    for name in _TEXT:
        value = event[name]
        if not isinstance(value, str) or not value or len(value) > 200:
            raise Invalid(f"{name} must be non-empty text (≤ 200 characters), got {value!r}")
    ts = event["ts"]
    try:
        moment = datetime.fromisoformat(ts) if isinstance(ts, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Invalid(f"ts {ts!r} is not an ISO 8601 time with an offset")
    ms = event["ms_played"]
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms < _MS_DAY:
        raise Invalid(f"ms_played {ms!r} is not an integer in [0, {_MS_DAY})")
    if not isinstance(event["skipped"], bool):
        raise Invalid(f"skipped {event['skipped']!r} is not true or false")
    if event["context"] not in CONTEXTS:
        raise Invalid(f"context {event['context']!r} is not one of {', '.join(CONTEXTS)}")
    country = event["country"]
    if not isinstance(country, str) or not _COUNTRY.match(country):
        raise Invalid(f"country {country!r} is not an ISO 3166-1 alpha-2 code")
    return event, (moment - _EPOCH) // timedelta(microseconds=1)


def parse(position: int, data: bytes, into: Parsed) -> None:
    """Add a message's lines to `into`."""
    columns = into.columns
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            event, micros = parse_line(line)
        except Invalid as exc:
            into.rejected.append((position, line.decode("utf-8", "replace"), str(exc)))
            continue
        for name in PLAY_SCHEMA.names:
            columns[name].append(micros if name == "ts" else event[name])
        into.keys.append(event_key(event["event_id"]))  # type: ignore[arg-type]
        into.positions.append(position)
