"""Seed lists: the artists a run starts from (names or Spotify ids)."""

from __future__ import annotations

import csv
from pathlib import Path

from tunelake.errors import InputError


class SeedsError(InputError):
    """The seeds file cannot be used; the message names the file and what is wrong."""


def read_seeds(path: Path) -> list[str]:
    """Names or ids, one a line (blank lines and #-comments skipped), or a CSV whose header
    has a `name` (or `artist`, `artist_name`, `id`) column. Order kept, duplicates dropped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SeedsError(f"cannot read seeds file {path}: {exc.strerror}") from exc
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        header = {h.strip().lower(): h for h in (rows[0].keys() if rows else [])}
        column = next(
            (header[c] for c in ("name", "artist", "artist_name", "id") if c in header), None
        )
        if column is None:
            raise SeedsError(
                f"seeds file {path} has no name column (name, artist, artist_name or id)"
            )
        values = [row[column] for row in rows]
    else:
        values = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
