"""The serving port: one schema-free JSON document per artist, keyed by artist_id, with a
lookup by name (case-, whitespace- and Unicode-normalised). Adapters: SQLite (embedded),
Redis, DynamoDB; `tunelake.storage.serving.open_serving(url)` picks one by URL scheme."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from tunelake.errors import BackendUnavailable, InputError, TunelakeError


class ServingError(TunelakeError):
    """The serving store cannot do what was asked; the message says why and what to do."""


class ServingUnavailable(ServingError, BackendUnavailable):
    """The backend cannot be reached (or opened). Names the store by its safe URL."""

    def __init__(self, url: str, reason: str, fix: str) -> None:
        super().__init__(f"serving store {url} is unavailable ({reason}); {fix}")
        self.url = url


class InvalidDocument(ServingError, InputError):
    """A document the store cannot hold: no artist_id or name, or not JSON-serialisable."""


class ServingStore(Protocol):
    url: str
    """The store's URL with any password masked (safe to print)."""

    def put_many(self, documents: Iterable[dict[str, Any]]) -> int:
        """Upsert documents (each has a non-empty string artist_id and name), stored exactly
        as given; when an artist_id repeats, the last document wins. Returns how many were
        written. Raises InvalidDocument before writing a batch holding a bad document."""

    def get(self, artist_id: str) -> dict[str, Any] | None: ...

    def get_many(self, artist_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The documents found, by artist_id; missing ids are absent."""

    def find_by_name(self, name: str) -> list[dict[str, Any]]:
        """Documents whose normalised name equals the normalised query (several artists may
        share a name), ordered by artist_id."""

    def count(self) -> int: ...

    def put_list(self, name: str, document: dict[str, Any]) -> None:
        """Replace the named list (e.g. "trending": a ranking computed elsewhere) as a whole:
        a reader sees the old document or the new one. Lists are not artists: get, get_many,
        find_by_name and count never see them. Raises InvalidDocument for a name that is not
        1-64 of [a-z0-9_-] or a document that is not JSON."""

    def get_list(self, name: str) -> dict[str, Any] | None:
        """The named list's document as written, or None if it was never written."""

    def close(self) -> None: ...
