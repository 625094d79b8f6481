"""Reading a dump file as it is: CSV (any of `, ; TAB |`, detected or given) or Parquet.

The table keeps the file's own column names, and a CSV's values stay text: what lands in the
raw zone is the file as read, and every conversion happens later, where a bad value becomes
a quarantined record instead of a failed run. A file that cannot be read at all is one
DumpError naming the file, the line where there is one, and the fix.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tunelake.errors import InputError
from tunelake.input_files import input_file
from tunelake.sources.errors import printable

DELIMITERS = ",;\t|"
_PARQUET_MAGIC = b"PAR1"
_BLOCK = 1 << 20
_SAMPLE = 64 * 1024


class DumpError(InputError):
    """The dump cannot be read as a track table; the message names the file and the fix."""


@dataclass(frozen=True)
class DumpSpec:
    path: Path
    mapping: Mapping[str, str] = field(default_factory=dict)
    """The dump's column name → tunelake's column name."""
    delimiter: str | None = None
    """A CSV's field delimiter; None detects it from the file's first lines."""

    @classmethod
    def parse(
        cls, source: str, mapping: Mapping[str, str] | None = None, delimiter: str | None = None
    ) -> DumpSpec:
        """`file:PATH` (the --source form) or a plain path."""
        path = input_file(
            Path(source.removeprefix("file:")).expanduser(), "dataset dump", DumpError
        )
        if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
            raise DumpError(f"delimiter {delimiter!r} for {path} must be one character")
        return cls(path, dict(mapping or {}), delimiter)


@dataclass(frozen=True)
class DumpFile:
    path: Path
    table: pa.Table
    """The rows as read, under the file's column names (a CSV's values as text)."""
    version: str
    """SHA-256 of the file's bytes."""
    delimiter: str | None
    """The CSV delimiter used; None for Parquet."""


#: Formats a dump is sometimes given in by mistake, by their first bytes ("magic numbers"):
#: what the file is, and what to do.
_NOT_TEXT: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip -k FILE)"),
    (b"BZh", "a bzip2-compressed file", "decompress it first (bunzip2 -k FILE)"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it first (unxz -k FILE)"),
    (b"(\xb5/\xfd", "a zstd-compressed file", "decompress it first (unzstd FILE)"),
    (b"SQLite format 3\x00", "an SQLite database", "export the track table as CSV"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel (.xls) or other OLE2 document",
        "save the sheet as CSV (UTF-8)",
    ),
    (b"%PDF", "a PDF document", "give the CSV or Parquet file of the tracks"),
)


def _not_text(head: bytes) -> tuple[str, str] | None:
    """What a file that is not CSV text is, from its first bytes, and the fix; None if it
    may be text."""
    if head.startswith(b"PK\x03\x04"):
        if b"xl/" in head or b"[Content_Types].xml" in head:
            return "an Excel workbook (.xlsx)", "save the sheet as CSV (UTF-8) or export it"
        return "a zip archive", "unzip it and give the CSV or Parquet file inside"
    return next(((what, fix) for magic, what, fix in _NOT_TEXT if head.startswith(magic)), None)


def read_file(spec: DumpSpec) -> DumpFile:
    path = spec.path
    digest, head, bad_utf8 = _scan(path)
    if not head:
        raise DumpError(f"dataset dump {path} is empty: give a CSV or Parquet file with rows")
    if head.startswith(_PARQUET_MAGIC):
        table, delimiter = _read_parquet(path), None
    else:
        found = _not_text(head)
        if found is not None:
            what, fix = found
            raise DumpError(
                f"dataset dump {path} is {what} (by its first bytes), not CSV text or Parquet: "
                f"{fix}"
            )
        if bad_utf8 is not None:
            raise DumpError(
                f"dataset dump {path} is not UTF-8 text (line {bad_utf8}): re-save it as "
                f"UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > fixed.csv"
            )
        delimiter = spec.delimiter or sniff_delimiter(head.decode("utf-8", "ignore"))
        table = _read_csv(path, head, delimiter)
    if table.num_rows == 0:
        raise DumpError(f"dataset dump {path} has a header but no rows: nothing to ingest")
    return DumpFile(path, _as_text(_unique_columns(path, table)), digest, delimiter)


def _unique_columns(path: Path, table: pa.Table) -> pa.Table:
    """The table, when no two columns share a name (which of two artist_id columns would be
    meant cannot be guessed)."""
    seen: dict[str, int] = {}
    for position, name in enumerate(table.column_names, start=1):
        if name in seen:
            raise DumpError(
                f"dataset dump {path} has two columns named {printable(name)!r} (columns "
                f"{seen[name]} and {position}): rename or remove one"
            )
        seen[name] = position
    return table


def _as_text(table: pa.Table) -> pa.Table:
    """Binary columns (a Parquet writer's untyped strings) as text where they are UTF-8; the
    others stay binary (refused if tunelake uses them, see `read_dump`)."""
    for i, field_ in enumerate(table.schema):
        if pa.types.is_binary(field_.type) or pa.types.is_large_binary(field_.type):
            try:
                table = table.set_column(i, field_.name, table.column(i).cast(pa.string()))
            except pa.ArrowInvalid:
                continue
    return table


def _scan(path: Path) -> tuple[str, bytes, int | None]:
    """The file's SHA-256, its first bytes, and the line of its first byte that is not
    UTF-8 (None when it all is), in one pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    head = b""
    line = 1
    bad: int | None = None
    try:
        with path.open("rb") as f:
            while block := f.read(_BLOCK):
                digest.update(block)
                head = head or block[:_SAMPLE]
                if bad is None:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        bad = line + block[: exc.start].count(b"\n")
                    line += block.count(b"\n")
            if bad is None:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    bad = line
    except OSError as exc:
        raise DumpError(f"cannot read dataset dump {path}: {exc.strerror}") from exc
    return digest.hexdigest(), head, bad


def sniff_delimiter(sample: str) -> str:
    """The delimiter of CSV text, from its first lines; a comma when nothing else fits."""
    lines = sample.splitlines()[:50]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end mid-line
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
    # the sniffer may pick a character of the values; a delimiter also splits the header
    return found if lines and found in lines[0] else ","


def _delimiter_name(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


def _read_csv(path: Path, head: bytes, delimiter: str) -> pa.Table:
    header_line = head.decode("utf-8-sig", "ignore").splitlines()[0]
    names = next(csv.reader([header_line], delimiter=delimiter), [])
    invalid: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    how = f"delimiter {_delimiter_name(delimiter)}"
    try:
        table = pacsv.read_csv(
            path,
            # one thread, so that an invalid row's line number is known
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            # text as read; values are typed (or quarantined) when records are derived
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        # pyarrow's message ends with the offending row's raw text: left out
        cause = printable(": ".join(str(exc).split(": ")[:2]))
        raise DumpError(
            f"cannot read dataset dump {path} as CSV ({how}): {cause}; fix the file or give "
            "its delimiter"
        ) from exc
    if invalid:
        row = invalid[0]
        where = f"line {row.number}" if row.number is not None else "a line"
        raise DumpError(
            f"dataset dump {path}, {where}: {row.actual_columns} field(s) where the header has "
            f"{row.expected_columns} ({how}; {len(invalid)} such line(s)); fix the line's "
            "quoting, or give the file's delimiter if it is not that one"
        )
    return table


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DumpError(
            f"cannot read dataset dump {path} as Parquet: {printable(str(exc))}; "
            "write the file again or export it as CSV"
        ) from exc
