"""The serving port: one schema-free JSON document per artist, keyed by artist_id, with a
lookup by name (case-, whitespace- and Unicode-normalised). Adapters: SQLite (embedded),
Redis, DynamoDB; `tunelake.storage.serving.open_serving(url)` picks one by URL scheme."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class ServingStore(Protocol):
    url: str

    def put_many(self, documents: Iterable[dict[str, Any]]) -> int:
        """Upsert documents (each has artist_id and name); returns how many were written."""

    def get(self, artist_id: str) -> dict[str, Any] | None: ...

    def get_many(self, artist_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    def find_by_name(self, name: str) -> list[dict[str, Any]]:
        """Documents whose normalised name equals the normalised query (several artists may
        share a name), ordered by artist_id."""

    def count(self) -> int: ...

    def close(self) -> None: ...
