"""Seed lists: the artists a run starts from (names or Spotify ids)."""

from __future__ import annotations

import csv
from pathlib import Path

from tunelake.errors import InputError

_NAME_COLUMNS = ("name", "artist", "artist_name", "id")


class SeedsError(InputError):
    """The seeds file cannot be used; the message names the file and what is wrong."""


def read_seeds(path: Path) -> list[str]:
    """Names or ids, one a line (blank lines and #-comments skipped), or a CSV whose header
    has a `name` (or `artist`, `artist_name`, `id`) column. Order kept, duplicates dropped.
    A file that names no artist is an error, not a run of the default artists."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SeedsError(
            f"seeds file {path} is not UTF-8 text (line {line}): re-save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise SeedsError(f"cannot read seeds file {path}: {exc.strerror}") from exc
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        header = {h.strip().lower(): h for h in (rows[0].keys() if rows else [])}
        column = next((header[c] for c in _NAME_COLUMNS if c in header), None)
        if rows and column is None:
            raise SeedsError(f"seeds file {path} has no name column ({', '.join(_NAME_COLUMNS)})")
        values = [row[column] for row in rows if column is not None]
    else:
        values = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    seeds = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if not seeds:
        raise SeedsError(f"seeds file {path} names no artist: write one name or Spotify id a line")
    return seeds
