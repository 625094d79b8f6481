"""Seed lists: the artists a run starts from (names or Spotify ids)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from tunelake.errors import InputError
from tunelake.input_files import input_file
from tunelake.names import MAX_QUERY_LENGTH

_NAME_COLUMNS = ("name", "artist", "artist_name", "id")


class SeedsError(InputError):
    """The seeds file cannot be used; the message names the file and what is wrong."""


def read_seeds(path: Path) -> list[str]:
    """Names or ids, one a line (blank lines and #-comments skipped), or a CSV whose header
    has a `name` (or `artist`, `artist_name`, `id`) column. Order kept, duplicates dropped.
    A file that names no artist is an error, not a run of the default artists; so is a name
    longer than MAX_QUERY_LENGTH, with its line."""
    input_file(path, "seeds file", SeedsError)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SeedsError(
            f"seeds file {path} is not UTF-8 text (line {line}): re-save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise SeedsError(f"cannot read seeds file {path}: {exc.strerror}") from exc
    numbered = _csv_values(path, text) if path.suffix.lower() == ".csv" else _lines(text)
    seeds: dict[str, None] = {}
    for line, value in numbered:
        seed = value.strip()
        if len(seed) > MAX_QUERY_LENGTH:
            raise SeedsError(
                f"seeds file {path}, line {line}: a name of {len(seed):,} characters; a name "
                f"or id is at most {MAX_QUERY_LENGTH}: one name or Spotify id a line"
            )
        if seed:
            seeds[seed] = None
    if not seeds:
        raise SeedsError(f"seeds file {path} names no artist: write one name or Spotify id a line")
    return list(seeds)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.lstrip().startswith("#"):
            yield number, line


def _csv_values(path: Path, text: str) -> Iterator[tuple[int, str]]:
    """The name column's values with the line each ends on."""
    reader = csv.DictReader(text.splitlines())
    try:
        header = {h.strip().lower(): h for h in reader.fieldnames or []}
        column = next((header[c] for c in _NAME_COLUMNS if c in header), None)
        for row in reader:
            if column is None:
                raise SeedsError(
                    f"seeds file {path} has no name column ({', '.join(_NAME_COLUMNS)})"
                )
            yield reader.line_num, row[column] or ""
    except csv.Error as exc:  # a field past the csv module's limit (128 KiB), a stray NUL;
        # the DictReader's own line_num counts the rows read whole only
        raise SeedsError(
            f"seeds file {path}, line {reader.reader.line_num}: not CSV ({exc}): one name a line, "
            f"at most {MAX_QUERY_LENGTH} characters"
        ) from exc
