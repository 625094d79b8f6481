"""Unique names that sort by creation time: partition versions, raw files, temp files."""

from __future__ import annotations

import re
import secrets
import threading
import time

ID_PATTERN = r"[0-9a-f]{24}"
_ID = re.compile(ID_PATTERN)

_lock = threading.Lock()
_last_ns = 0


def new_id() -> str:
    """16 hex digits of nanoseconds since the epoch (fixed width, so names sort by time; strictly
    increasing within this process) and 8 random ones (unique across processes and hosts)."""
    global _last_ns
    with _lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        stamp = _last_ns
    return f"{stamp:016x}{secrets.token_hex(4)}"


def created_ns(id_: str) -> int:
    """When the id was made, in nanoseconds since the epoch."""
    if not _ID.fullmatch(id_):
        raise ValueError(f"{id_!r} is not a lake id")
    return int(id_[:16], 16)
