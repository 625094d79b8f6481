"""The one way tunelake shows a URL: with any password masked, so it is safe to print or log.

`mask_url` masks one URL; `mask_urls_in` masks every URL written into a text (an error
message, a log line, a traceback's text). The terminal's error line (cli/common.py) and every
log event (observability.py) go through `mask_urls_in`, so a URL setting with a password in
it (`TUNELAKE_S3_ENDPOINT_URL=http://user:pass@host`) never shows, whichever code quoted it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "***"
_CREDENTIALS = re.compile(r":[^@\s]*@")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def mask_url(url: str) -> str:
    """`url` with the password of its authority replaced by ***; a URL without one is
    returned as given, and one that cannot be parsed is hidden whole."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(hidden: not a readable URL)"
    if not parts.scheme and _CREDENTIALS.search(url):  # no URL, yet `…:password@` in it
        return "(hidden: not a readable URL)"
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}").geturl()


def mask_urls_in(text: str) -> str:
    """text with the password of every URL in it masked (see mask_url)."""
    if "://" not in text:  # the common case, without a regex scan
        return text
    return _URL.sub(lambda m: mask_url(m.group(0)), text)
