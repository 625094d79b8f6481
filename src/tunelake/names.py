"""Artist names as every layer takes them: normalised for matching (discovery, the serving
name index), and bounded in length wherever a user gives one."""

from __future__ import annotations

import unicodedata

from tunelake.errors import InputError


def normalise_name(name: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed: full-width 'Ｂｌｕｒ ' and 'blur' are one name."""  # noqa: RUF002
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


MAX_QUERY_LENGTH = 200
"""Longest artist name or id (or search text) tunelake takes, wherever it comes from: a seeds
file, --artist, an ingest request, the API. No artist is called anything longer, and a longer
text would only fail later, in a URL or a store's column."""


def checked_query(text: str, what: str) -> str:
    """text without surrounding spaces; an InputError naming `what` when that is blank or
    longer than MAX_QUERY_LENGTH."""
    query = text.strip()
    if not query:
        raise InputError(f"{what} is blank: give a name or an id")
    if len(query) > MAX_QUERY_LENGTH:
        raise InputError(
            f"{what} is {len(query):,} characters long: at most {MAX_QUERY_LENGTH} "
            "(no artist's name is longer)"
        )
    return query
