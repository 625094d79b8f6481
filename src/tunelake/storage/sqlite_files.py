"""Reading an embedded (SQLite) store that lies in a folder this process cannot write.

The warehouse and the serving store are WAL databases. A WAL database can only be opened
where SQLite may create its shared-memory file (`<db>-shm`) beside it, so on a read-only
mount, or in someone else's data directory, every read fails with "unable to open database
file". Opened immutable (`mode=ro&immutable=1`) SQLite reads the file as it is, without that
file and without locks: right only where nobody can write, which is exactly that case.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlencode

#: The URI options that open a database read-only and immutable.
IMMUTABLE = {"mode": "ro", "immutable": "1"}


def needs_immutable(path: Path) -> bool:
    """True when the database at path exists but its folder cannot be written."""
    return path.is_file() and not os.access(path.parent, os.W_OK)


def file_uri(path: Path) -> str:
    return f"file:{quote(str(path.resolve()))}"


def immutable_uri(path: Path) -> str:
    """The SQLite URI that opens path read-only and immutable."""
    return f"{file_uri(path)}?{urlencode(IMMUTABLE)}"
