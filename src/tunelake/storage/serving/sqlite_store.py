"""The embedded serving store: one SQLite file, a row per artist holding its JSON document.

WAL mode lets readers go on while a writer commits; each put_many is one transaction."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tunelake.names import normalise_name
from tunelake.storage.serving.documents import (
    chunks,
    decode,
    encode_list,
    encoded_batches,
    utc_now,
)
from tunelake.storage.serving.port import ServingUnavailable
from tunelake.storage.sqlite_files import immutable_uri, needs_immutable

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS docs (
        artist_id TEXT PRIMARY KEY,
        name_key TEXT NOT NULL,
        doc TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS docs_name_key ON docs (name_key)",
    """CREATE TABLE IF NOT EXISTS lists (
        name TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
)
_UPSERT = """INSERT INTO docs (artist_id, name_key, doc, updated_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (artist_id) DO UPDATE SET
        name_key = excluded.name_key, doc = excluded.doc, updated_at = excluded.updated_at"""
_BATCH = 5_000
# Well under SQLite's bound-parameter limit (32,766 since 3.32; 999 before).
_IDS_PER_SELECT = 900


class SqliteServing:
    def __init__(self, path: Path, *, busy_timeout: float, read_only: bool = False) -> None:
        """read_only: a store file in a folder this process cannot write is opened immutable
        (`tunelake.storage.sqlite_files`); any write then fails."""
        self.url = f"sqlite:///{path}"
        try:
            if read_only and needs_immutable(path):
                self._conn = sqlite3.connect(
                    immutable_uri(path), uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                self._conn = _writable(path, busy_timeout)
        except (OSError, sqlite3.Error) as exc:
            raise ServingUnavailable(
                self.url, str(exc), "check that the path is a writable file location"
            ) from exc
        # One connection per store; the lock lets several threads share the store object.
        self._lock = threading.Lock()

    def put_many(self, documents: Iterable[dict[str, Any]]) -> int:
        written = 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for batch in encoded_batches(documents, _BATCH):
                    now = utc_now()
                    self._conn.executemany(
                        _UPSERT, [(d.artist_id, d.name_key, d.body, now) for d in batch]
                    )
                    written += len(batch)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return written

    def get(self, artist_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM docs WHERE artist_id = ?", (artist_id,)
            ).fetchone()
        return None if row is None else decode(row[0])

    def get_many(self, artist_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for ids in chunks(list(dict.fromkeys(artist_ids)), _IDS_PER_SELECT):
                marks = ", ".join("?" * len(ids))
                rows = self._conn.execute(
                    f"SELECT artist_id, doc FROM docs WHERE artist_id IN ({marks})", tuple(ids)
                )
                found.update((artist_id, decode(doc)) for artist_id, doc in rows)
        return found

    def find_by_name(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc FROM docs WHERE name_key = ? ORDER BY artist_id",
                (normalise_name(name),),
            ).fetchall()
        return [decode(doc) for (doc,) in rows]

    def count(self) -> int:
        with self._lock:
            (n,) = self._conn.execute("SELECT count(*) FROM docs").fetchone()
        return int(n)

    def put_list(self, name: str, document: dict[str, Any]) -> None:
        body = encode_list(name, document)
        with self._lock:
            self._conn.execute(
                "INSERT INTO lists (name, doc, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                (name, body, utc_now()),
            )

    def get_list(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            try:
                row = self._conn.execute("SELECT doc FROM lists WHERE name = ?", (name,)).fetchone()
            except sqlite3.OperationalError:
                # a store written before lists existed, opened immutable: it has none
                return None
        return None if row is None else decode(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _writable(path: Path, busy_timeout: float) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit mode: transactions are begun explicitly (BEGIN IMMEDIATE) so that two
    # writers queue on the busy timeout instead of failing on a lock upgrade.
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL's recommended level: commits skip the fsync (a power cut may lose the last ones,
    # never corrupt the file); the pipeline republishes whatever was lost.
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in _SCHEMA:
        conn.execute(statement)
    return conn
