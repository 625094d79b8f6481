"""The one way tunelake shows a URL: with any password masked, so it is safe to print or log."""

from __future__ import annotations

from urllib.parse import urlsplit

MASK = "***"


def mask_url(url: str) -> str:
    """`url` with the password of its authority replaced by ***; a URL without one is
    returned as given, and one that cannot be parsed is hidden whole."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(hidden: not a readable URL)"
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}").geturl()
