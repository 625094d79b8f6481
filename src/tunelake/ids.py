"""Spotify ids, a domain rule: the one pattern every layer checks them with (validation, the
sources, the catalog server), and the ids as a client takes them: checked (they go into URL
paths), deduplicated, batched to what an endpoint accepts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from tunelake.names import normalise_name

SPOTIFY_ID = r"[0-9A-Za-z]{22}"
"""A Spotify id: 22 characters of base62 (also valid RE2, for the validation contracts)."""

_SPOTIFY_ID = re.compile(SPOTIFY_ID)


def is_spotify_id(value: object) -> bool:
    return isinstance(value, str) and _SPOTIFY_ID.fullmatch(value) is not None


def spotify_ids(ids: Iterable[str], what: str) -> list[str]:
    """The ids in first-seen order, each once; a ValueError names the first that is not an id."""
    if isinstance(ids, str):
        raise ValueError(f"{what} must be a list of ids, not one string ({ids!r})")
    unique = list(dict.fromkeys(ids))
    for value in unique:
        if not is_spotify_id(value):
            raise ValueError(f"{what}: {value!r} is not a Spotify id (22 letters and digits)")
    return unique


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


#: The prefix of an artist id tunelake derived from the artist's name (a dump without ids).
DERIVED_PREFIX = "name:"


def derived_artist_id(name: str) -> str:
    """A stable artist id for a dump that names artists but gives no ids: `name:` and 16 hex
    digits of the SHA-256 of the normalised name (NFKC, case-folded, spaces collapsed), so
    "Björk" and "BJÖRK " are one artist, in every run and on every machine."""
    digest = hashlib.sha256(normalise_name(name).encode("utf-8")).hexdigest()
    return f"{DERIVED_PREFIX}{digest[:16]}"
