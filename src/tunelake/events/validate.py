"""From broker messages to rows of `plays` and rejects of `quarantine_plays`.

A message is a batch of events, one JSON object a line. Each line is checked on its own: a bad
line is quarantined (its raw text and the reason), the others go on. Checks: JSON object, every
curated field present, event_id a UUID, ids non-empty text, ts ISO 8601 with an offset,
ms_played an integer in [0, 24 h), skipped a boolean, context one of CONTEXTS, device text,
country two capital letters.

A batch is decoded column-wise: its lines are located with NumPy, go through Arrow's JSON
reader in one call (blocks read by several threads) and are checked with pyarrow.compute, so
the consumer spends no Python per good line (per-line Python was 4/5 of its time, and holds
the GIL its other stages need). `parse_line` is the reference: a line Arrow cannot read (its
reader stops at the first bad line and names its row) or whose row fails a vectorised check
goes through it, which accepts it or says why not. The vectorised checks are stricter, never
looser, than `parse_line` (e.g. one `ts` layout only), so both paths accept the same events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from tunelake.events.schema import CONTEXTS, PLAY_SCHEMA

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_TEXT = ("user_id", "session_id", "track_id", "artist_id", "device")
_MAX_TEXT = 200
_MS_DAY = 86_400_000
_M64 = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The vectorised checks (RE2 syntax; fullmatch as in parse_line).
_UUID_RE = f"^{_UUID.pattern}$"
_COUNTRY_RE = f"^{_COUNTRY.pattern}$"
_TS_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
"""The one `ts` layout checked column-wise (what producers send); parse_line takes the rest."""
_RAW_SCHEMA = pa.schema(
    [
        pa.field(f.name, {"ts": pa.string(), "ms_played": pa.int64()}.get(f.name, f.type))
        for f in PLAY_SCHEMA
    ]
)
"""How Arrow reads a line: ts as text (checked, then cast), ms_played as int64 (range-checked)."""
_READ = pj.ParseOptions(explicit_schema=_RAW_SCHEMA, unexpected_field_behavior="ignore")
_ROW = re.compile(r" in row (\d+)\s*$")
_SLICE_BYTES = 4 << 20
_BLOCK = 1 << 20
"""Bytes an Arrow block at least (blocks are read by several threads)."""
_PYTHON_BELOW = 32
"""A segment Arrow cannot read, without a row to blame, is halved down to this many lines,
then read line by line."""
_CONTEXTS = pa.array(CONTEXTS)
_WITH_LINE = PLAY_SCHEMA.append(pa.field("line", pa.int64()))
"""A good event and the index of its line in the batch (to restore arrival order)."""
# Hex digit → value, for event keys; every other byte maps to 0 (ids are checked first).
_HEX = np.zeros(256, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i
_HEX_AT = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


class Invalid(ValueError):
    pass


@dataclass
class Parsed:
    """One batch's good events (PLAY_SCHEMA, in the order they came) and its rejects."""

    plays: pa.Table = field(default_factory=PLAY_SCHEMA.empty_table)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    """(position, raw line, reason) of each bad line."""

    @property
    def keys(self) -> np.ndarray:
        """A 64-bit key per good event (from its event_id) for duplicate detection."""
        return event_keys(self.plays.column("event_id"), checked=True)

    @property
    def micros(self) -> np.ndarray:
        """Each good event's ts in microseconds since the epoch."""
        return self.plays.column("ts").cast(pa.int64()).to_numpy()


def event_key(event_id: str) -> int:
    """A 64-bit key of a UUID text: its two halves mixed (distinct ids collide with odds
    about 2**-64 per pair; ids that share one half never do)."""
    value = int(event_id.replace("-", ""), 16)
    return ((value >> 64) ^ ((value & _M64) * _MIX)) & _M64


def event_keys(
    ids: pa.Array | pa.ChunkedArray | Sequence[str], *, checked: bool = False
) -> np.ndarray:
    """event_key of every id, column-wise; ids that are not UUIDs are left out (no event of
    `plays` can share them: the consumer only writes UUIDs). checked: every id is known to be
    a UUID (parse's), so none is looked at again."""
    if not isinstance(ids, pa.Array | pa.ChunkedArray):
        ids = pa.array(ids, pa.string())
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks() if ids.num_chunks else pa.array([], pa.string())
    if not checked:
        ids = ids.filter(pc.match_substring_regex(ids, _UUID_RE))
    ids = ids.cast(pa.large_string())
    if len(ids) == 0:
        return np.zeros(0, dtype=np.uint64)
    # Every id is 36 ASCII characters, so the texts are one (n, 36) byte matrix.
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[
        ids.offset : ids.offset + len(ids) + 1
    ]
    assert offsets[-1] - offsets[0] == 36 * len(ids), "event ids must be UUID texts"
    text = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    nibbles = _HEX[text.reshape(-1, 36)[:, _HEX_AT]]
    halves = np.ascontiguousarray(nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).view(">u8")
    hi, lo = halves[:, 0].astype(np.uint64), halves[:, 1].astype(np.uint64)
    with np.errstate(over="ignore"):
        return hi ^ (lo * np.uint64(_MIX))  # uint64 arithmetic wraps: mod 2**64


def parse_line(line: bytes) -> tuple[dict[str, object], int]:
    """The checked event and its ts in microseconds since the epoch; Invalid says why not."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise Invalid(f"not a JSON object but {type(event).__name__}")
    missing = [name for name in PLAY_SCHEMA.names if event.get(name) is None]
    if missing:
        raise Invalid(f"missing field(s) {', '.join(missing)}")
    event_id = event["event_id"]
    if not isinstance(event_id, str) or not _UUID.fullmatch(event_id):
        raise Invalid(f"event_id {event_id!r} is not a UUID")
    for name in _TEXT:
        value = event[name]
        if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
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
    if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
        raise Invalid(f"country {country!r} is not an ISO 3166-1 alpha-2 code")
    return event, (moment - _EPOCH) // timedelta(microseconds=1)


def parse(batch: Sequence[tuple[int, bytes]]) -> Parsed:
    """The events of a batch of (position, message) pairs, decoded _SLICE_BYTES of messages at
    a time: the working memory of a decode (the text copied twice, Arrow's parse) stays that
    of a slice, whatever the batch size."""
    parsed = Parsed()
    tables = []
    start = size = 0
    for end, (_, message) in enumerate(batch, 1):
        size += len(message)
        if size >= _SLICE_BYTES or end == len(batch):
            part = _parse(batch[start:end])
            tables.append(part.plays)
            parsed.rejected.extend(part.rejected)
            start, size = end, 0
    if tables:
        parsed.plays = pa.concat_tables(tables).combine_chunks()
    return parsed


def _parse(batch: Sequence[tuple[int, bytes]]) -> Parsed:
    # The lines are located in the joined text column-wise, with no Python object per line
    # (those hold the GIL the consumer's other stages need).
    data = b"\n".join([*(message for _, message in batch), b""])  # each line ends in "\n"
    text = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(text == ord("\n"))
    starts = np.concatenate(([0], ends[:-1] + 1))
    sizes = np.fromiter((len(message) + 1 for _, message in batch), np.int64, len(batch))
    of_message = np.searchsorted(np.cumsum(sizes), ends, side="right")
    positions = np.array([p for p, _ in batch], dtype=np.int64)[of_message]
    # A line Arrow reads is {…} with nothing around it; any other goes to parse_line (a blank
    # one is skipped), and so does every line of a message that is not UTF-8 (Arrow's reader
    # does not check it: orjson does).
    nonblank = ends > starts
    full = np.flatnonzero(nonblank)
    fast = np.zeros(len(ends), dtype=bool)
    fast[full] = (text[starts[full]] == ord("{")) & (text[ends[full] - 1] == ord("}"))
    if not _utf8(data):
        fast &= np.array([_utf8(message) for _, message in batch])[of_message]
    by_python = np.flatnonzero(~fast & nonblank).tolist()
    index = np.flatnonzero(fast)
    pieces = _candidates(data, starts, ends, index, by_python)
    parsed = Parsed()
    tables = [
        _checked(index[start : start + piece.num_rows], piece, by_python) for start, piece in pieces
    ]
    lines = {i: data[starts[i] : ends[i]] for i in sorted(by_python)}
    tables.append(_by_python(lines, positions, parsed.rejected))
    holding = [t for t in tables if t.num_rows]
    plays = pa.concat_tables(holding or tables)
    if len(holding) > 1:
        # Back in arrival order: the first of two events with one id is the one kept.
        plays = plays.take(pc.sort_indices(plays, [("line", "ascending")]))
    parsed.plays = plays.drop_columns(["line"])
    return parsed


def _candidates(
    data: bytes, starts: np.ndarray, ends: np.ndarray, index: np.ndarray, by_python: list[int]
) -> list[tuple[int, pa.Table]]:
    """The lines numbered index, read by Arrow: (first candidate, table) pieces; the numbers
    of the lines it cannot read go to by_python."""
    if not len(index):
        return []
    try:  # every candidate at once, by several threads
        table = _read(_lines_of(data, starts, ends, index), exact=False)
        if table.num_rows == len(index):
            return [(0, table)]
    except pa.ArrowInvalid:
        pass
    # A bad line, or one holding two objects: find them, and read around them.
    pieces: list[tuple[int, pa.Table]] = []
    failed: list[int] = []
    candidates = [data[starts[i] : ends[i]] for i in index.tolist()]
    _decode(candidates, 0, len(candidates), pieces, failed)
    by_python.extend(index[failed].tolist())
    return pieces


def _lines_of(data: bytes, starts: np.ndarray, ends: np.ndarray, index: np.ndarray) -> bytes:
    """The lines numbered index (ascending) of data, each with its line break, in one bytes:
    the runs between the other lines copied once (few in a real batch), no Python per line
    read."""
    view = memoryview(data)
    runs = []
    at = 0
    for i in np.setdiff1d(np.arange(len(starts)), index, assume_unique=True).tolist():
        runs.append(view[at : starts[i]])
        at = ends[i] + 1
    runs.append(view[at:])
    return b"".join(runs)


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _read(data: bytes, *, exact: bool) -> pa.Table:
    """Arrow's reader over JSON lines. exact: in one block, so the row an error names is the
    line's index (else in blocks read by several threads)."""
    size = len(data)
    options = pj.ReadOptions(
        use_threads=not exact, block_size=size + 1 if exact else max(_BLOCK, size // 4 + 1)
    )
    return pj.read_json(pa.BufferReader(data), read_options=options, parse_options=_READ)


def _decode(
    lines: list[bytes],
    start: int,
    end: int,
    pieces: list[tuple[int, pa.Table]],
    by_python: list[int],
) -> None:
    """Read lines[start:end] with Arrow into pieces (first line, table); the indexes of lines
    it cannot read go to by_python."""
    while start < end:
        if end - start <= _PYTHON_BELOW // 4:
            by_python.extend(range(start, end))
            return
        try:
            table = _read(b"\n".join(lines[start:end]), exact=True)
        except pa.ArrowInvalid as exc:
            found = _ROW.search(str(exc))
            bad = start + int(found.group(1)) if found else -1
            if not start <= bad < end:  # no row named: halve until one is, or few lines
                if end - start <= _PYTHON_BELOW:
                    by_python.extend(range(start, end))
                    return
                middle = (start + end) // 2
                _decode(lines, start, middle, pieces, by_python)
                start = middle
                continue
            _decode(lines, start, bad, pieces, by_python)  # read up to the bad line
            by_python.append(bad)
            start = bad + 1
            continue
        if table.num_rows != end - start:  # a line holding two objects: line by line
            by_python.extend(range(start, end))
        else:
            pieces.append((start, table))
        return


def _checked(at: np.ndarray, raw: pa.Table, by_python: list[int]) -> pa.Table:
    """The rows of raw (the lines numbered `at`) that pass every check, as PLAY_SCHEMA plus
    `line`; the others' lines go to by_python, which accepts them or says why not."""
    raw = raw.combine_chunks()
    col = raw.column
    ok = pc.and_(
        pc.match_substring_regex(col("event_id"), _UUID_RE),
        pc.match_substring_regex(col("ts"), _TS_RE),
    )
    for name in _TEXT:
        length = pc.utf8_length(col(name))
        ok = pc.and_(ok, pc.and_(pc.greater(length, 0), pc.less_equal(length, _MAX_TEXT)))
    ms = col("ms_played")
    ok = pc.and_(ok, pc.and_(pc.greater_equal(ms, 0), pc.less(ms, _MS_DAY)))
    ok = pc.and_(ok, pc.is_in(col("context"), _CONTEXTS))
    ok = pc.and_(ok, pc.match_substring_regex(col("country"), _COUNTRY_RE))
    ok = pc.and_(ok, pc.is_valid(col("skipped")))
    ok = pc.fill_null(ok, False)  # a missing field (null) fails
    lines = pa.array(at)
    by_python.extend(lines.filter(pc.invert(ok)).to_pylist())
    good = raw.filter(ok)
    try:
        ts = good.column("ts").cast(PLAY_SCHEMA.field("ts").type)
    except pa.ArrowInvalid:  # a date that does not exist (2026-02-30): each row by itself
        by_python.extend(lines.filter(ok).to_pylist())
        return _WITH_LINE.empty_table()
    columns = [ts if f.name == "ts" else good.column(f.name).cast(f.type) for f in PLAY_SCHEMA]
    return pa.Table.from_arrays([*columns, lines.filter(ok)], schema=_WITH_LINE)


def _by_python(
    lines: dict[int, bytes], positions: np.ndarray, rejected: list[tuple[int, str, str]]
) -> pa.Table:
    """parse_line over lines (by line number, in order): the good ones as rows, the others
    into rejected."""
    columns: dict[str, list[object]] = {name: [] for name in _WITH_LINE.names}
    for i, line in lines.items():
        if line.isspace():
            continue
        try:
            event, micros = parse_line(line)
        except Invalid as exc:
            rejected.append((int(positions[i]), line.decode("utf-8", "replace"), str(exc)))
            continue
        for name in PLAY_SCHEMA.names:
            columns[name].append(micros if name == "ts" else event[name])
        columns["line"].append(i)
    return pa.Table.from_pydict(columns, schema=_WITH_LINE)
