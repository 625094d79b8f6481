"""Name normalisation shared by discovery (exact match first) and the serving name index."""

from __future__ import annotations

import unicodedata


def normalise_name(name: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed: full-width 'Ｂｌｕｒ ' and 'blur' are one name."""  # noqa: RUF002
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())
