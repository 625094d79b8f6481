"""The dump adapter of the source port: artists are resolved within the file, and the rows of
the artists a run asks for land in the raw zone as read (endpoint `dump`), each with its row
number and the file's content hash."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pyarrow as pa
import structlog

from tunelake.models import Artist
from tunelake.sources.dump.columns import Columns, plan_columns
from tunelake.sources.dump.read import DumpError, DumpFile, DumpSpec, read_file
from tunelake.sources.dump.records import artist_id_of, primary
from tunelake.sources.errors import printable
from tunelake.sources.port import Resolution, SourceInfo, resolve_by_name
from tunelake.storage.lake.port import Lake

DUMP_ENDPOINT = "dump"
_ROWS_PER_FILE = 50_000

log = structlog.get_logger(__name__)


def read_dump(spec: DumpSpec) -> tuple[DumpFile, Columns]:
    """The dump as read and which of its columns give ours; errors name the file and the fix."""
    dump = read_file(spec)
    how = "Parquet" if dump.delimiter is None else f"CSV, delimiter {dump.delimiter!r}"
    columns = plan_columns(
        f"dataset dump {spec.path} ({how})", dump.table.column_names, spec.mapping
    )
    for theirs, ours in columns.renames.items():
        kind = dump.table.schema.field(theirs).type
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            raise DumpError(
                f"dataset dump {spec.path}: column {printable(theirs)!r} (for {ours}) holds "
                "binary values that are not UTF-8 text; write it as a string column"
            )
        if not _readable(kind):
            # a struct would land as its Python repr ("{'x': 'art1'}") and pass as an id
            raise DumpError(
                f"dataset dump {spec.path}: column {printable(theirs)!r} (for {ours}) is of type "
                f"{kind}; tunelake reads text, numbers, dates or a list of them there: flatten "
                "it, or --map another column"
            )
    return replace(dump, table=_landable(dump.table)), columns


def _landable(table: pa.Table) -> pa.Table:
    """The table with its (unused) binary columns as base64 text: raw records are JSON."""
    for i, field_ in enumerate(table.schema):
        if pa.types.is_binary(field_.type) or pa.types.is_large_binary(field_.type):
            text = [
                None if b is None else base64.b64encode(b).decode() for b in table[i].to_pylist()
            ]
            table = table.set_column(i, field_.name, pa.array(text, pa.string()))
    return table


def _readable(kind: pa.DataType) -> bool:
    """A value type a dump column of ours may have: a scalar, or a list of scalars."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _scalar(kind.value_type)
    return _scalar(kind)


def _scalar(kind: pa.DataType) -> bool:
    return any(
        check(kind)
        for check in (
            pa.types.is_string,
            pa.types.is_large_string,
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_boolean,
            pa.types.is_null,
            pa.types.is_temporal,
            pa.types.is_decimal,
        )
    )


def dump_rows(records: Iterable[Mapping[str, Any]], version: str) -> list[Mapping[str, Any]]:
    """The raw dump records of one version of the file, each row once (a row lands again when
    a changed mapping makes a re-run fetch it anew)."""
    rows = {r["row"]: r for r in records if r.get("version") == version}
    return [rows[n] for n in sorted(rows)]


class DumpSource:
    def __init__(self, spec: DumpSpec):
        self._dump, columns = read_dump(spec)
        self.info = SourceInfo(
            kind="dump",
            name=f"file:{spec.path}",
            id_pattern=None,
            version=self._dump.version,
            columns=columns.renames,
            derived=columns.derived,
        )
        self._ignored = columns.ignored
        if columns.derived:
            log.info(
                "dump artist ids derived from names",
                file=str(spec.path),
                how="name: + 16 hex of SHA-256 of the NFKC-casefolded name",
            )
        if self._ignored:
            log.warning(
                "dump columns ignored",
                file=str(spec.path),
                columns=list(self._ignored),
                fix="map a column with --map DUMP_COLUMN=COLUMN if it holds one of ours",
            )
        by_ours = {ours: theirs for theirs, ours in columns.renames.items()}
        table = self._dump.table
        names = table[by_ours["artist_name"]].to_pylist()
        derived = "artist_id" in columns.derived
        given = names if derived else table[by_ours["artist_id"]].to_pylist()
        self._artist_ids = [artist_id_of(i, n, derived) for i, n in zip(given, names, strict=True)]
        self._artist_names = [primary(v) for v in names]
        self._pending: list[int] = []

    def default_queries(self) -> list[str]:
        return list(dict.fromkeys(a for a in self._artist_ids if a))

    def resolve(self, queries: Sequence[str]) -> list[Resolution]:
        names = dict(zip(self._artist_ids, self._artist_names, strict=True))
        artists = [Artist(artist_id=i, name=n or "") for i, n in names.items() if i]
        return [
            Resolution(q, "resolved", q) if q in names else resolve_by_name(q, artists)
            for q in queries
        ]

    def fetch(self, artist_ids: Sequence[str], known_tracks: set[str]) -> None:
        wanted = set(artist_ids)
        self._pending += [i for i, a in enumerate(self._artist_ids) if a in wanted]

    def land(self, lake: Lake, dt: date) -> int:
        indices, self._pending = self._pending, []
        table = self._dump.table
        for start in range(0, len(indices), _ROWS_PER_FILE):
            chunk = indices[start : start + _ROWS_PER_FILE]
            values = table.take(chunk).to_pylist()
            records = [
                # row 1 is the first after a CSV's header
                {"version": self.info.version, "row": i + 1, "values": v}
                for i, v in zip(chunk, values, strict=True)
            ]
            lake.write_raw(DUMP_ENDPOINT, dt, records)
        return len(indices)

    def details(self) -> dict[str, Any]:
        return {
            "file": str(self._dump.path),
            "rows": self._dump.table.num_rows,
            "content_sha256": self._dump.version,
            "delimiter": self._dump.delimiter,
            "ignored_columns": list(self._ignored),
        }
