"""How every adapter checks and stores a document: compact JSON text plus its name key.

Each backend keeps the JSON text as written, so a document reads back exactly (a native
DynamoDB map would not: its numbers normalise 120.0 to 120)."""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tunelake.names import normalise_name
from tunelake.storage.serving.port import InvalidDocument

T = TypeVar("T")

# Built once: json.dumps with options builds a new encoder per call. Refuses NaN/Infinity,
# which JSON does not have.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True, slots=True)
class Encoded:
    artist_id: str
    name_key: str
    body: str


def encode(document: Mapping[str, Any]) -> Encoded:
    if not isinstance(document, Mapping):
        raise InvalidDocument(f"a serving document must be a dict, got {type(document).__name__}")
    artist_id = document.get("artist_id")
    if not isinstance(artist_id, str) or not artist_id:
        raise InvalidDocument(
            f"a serving document needs a non-empty string artist_id, got {reprlib.repr(artist_id)}"
        )
    name = document.get("name")
    name_key = normalise_name(name) if isinstance(name, str) else ""
    if not name_key:
        raise InvalidDocument(
            f"document {artist_id!r} needs a string name with a visible character, "
            f"got {reprlib.repr(name)}"
        )
    try:
        body = _ENCODER.encode(document)
    except (TypeError, ValueError) as exc:
        raise InvalidDocument(f"document {artist_id!r} is not JSON-serialisable: {exc}") from exc
    return Encoded(artist_id, name_key, body)


_LIST_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")


def encode_list(name: str, document: Mapping[str, Any]) -> str:
    """The JSON text of a named list's document (see ServingStore.put_list)."""
    if not isinstance(name, str) or not _LIST_NAME.match(name):
        raise InvalidDocument(f"a list name is 1-64 of [a-z0-9_-], got {reprlib.repr(name)}")
    if not isinstance(document, Mapping):
        raise InvalidDocument(f"list {name!r} must be a dict, got {type(document).__name__}")
    try:
        return _ENCODER.encode(document)
    except (TypeError, ValueError) as exc:
        raise InvalidDocument(f"list {name!r} is not JSON-serialisable: {exc}") from exc


def decode(body: str | bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(body)
    return document


def encoded_batches(documents: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Encoded]]:
    """Encoded documents in batches of at most `size` distinct artist_ids. Within a batch the
    last document of an id wins: backends reject or reorder repeated keys in one request."""
    batch: dict[str, Encoded] = {}
    for document in documents:
        encoded = encode(document)
        batch[encoded.artist_id] = encoded
        if len(batch) == size:
            yield list(batch.values())
            batch = {}
    if batch:
        yield list(batch.values())


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def utc_now() -> str:
    return datetime.now(UTC).isoformat()
