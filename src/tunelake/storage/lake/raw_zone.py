"""The raw zone: API responses as landed, `raw/<endpoint>/dt=YYYY-MM-DD/<id>.jsonl.gz`.

Each write is one new gzip JSON-lines file whose name sorts by landing time; it appears whole
or not at all (see `Store.writer`). Nothing is ever rewritten, so a reader needs no manifest.
"""

from __future__ import annotations

import gzip
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import date
from typing import Any

import pydantic_core

from tunelake.storage.lake.store import Store

SUFFIX = ".jsonl.gz"
_RAW_FILE = re.compile(rf"^[0-9a-f]{{24}}{re.escape(SUFFIX)}$")

_lock = threading.Lock()
_last_ns = 0


def new_id() -> str:
    """A file name that sorts by landing time: 16 hex digits of nanoseconds since the epoch
    (fixed width; strictly increasing within this process) and 8 random ones (unique across
    processes and hosts)."""
    global _last_ns
    with _lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        stamp = _last_ns
    return f"{stamp:016x}{secrets.token_hex(4)}"


class RawZone:
    def __init__(self, store: Store, base: str) -> None:
        self.store = store
        self.base = base

    def folder(self, endpoint: str, dt: date) -> str:
        return f"{self.base}/{endpoint}/dt={dt.isoformat()}"

    def write(self, endpoint: str, dt: date, records: Iterable[dict[str, Any]]) -> str:
        path = f"{self.folder(endpoint, dt)}/{new_id()}{SUFFIX}"
        with self.store.writer(path) as f, gzip.GzipFile(fileobj=f, mode="wb") as gz:
            for record in records:
                # pydantic's encoder also takes the datetimes and models a response may hold.
                gz.write(pydantic_core.to_json(record) + b"\n")
        return self.store.url_of(path)

    def read(self, endpoint: str, dt: date) -> Iterator[dict[str, Any]]:
        for path in self._files(endpoint, dt):
            with self.store.fs.open(path, "rb") as f, gzip.open(f, "rt", encoding="utf-8") as lines:
                for line in lines:
                    yield json.loads(line)

    def endpoints(self, dt: date) -> list[str]:
        return [name for name in self.store.names(self.base) if self._files(name, dt)]

    def dates(self, endpoint: str) -> list[date]:
        found = []
        for name in self.store.names(f"{self.base}/{endpoint}"):
            key, _, value = name.partition("=")
            with suppress(ValueError):
                if key == "dt" and self._files(endpoint, date.fromisoformat(value)):
                    found.append(date.fromisoformat(value))
        return sorted(found)

    def _files(self, endpoint: str, dt: date) -> list[str]:
        folder = self.folder(endpoint, dt)
        # Temp files of writes in progress (or crashed) do not match.
        return [f"{folder}/{n}" for n in self.store.names(folder) if _RAW_FILE.match(n)]
