"""The serving store on Redis.

Keys under a prefix: `<prefix>:artist:<id>` holds the JSON document; `<prefix>:name:<key>`
is the SET of ids sharing a normalised name; the HASH `<prefix>:names` maps each id to its
current name key, so a rename can leave its old name's set and count() is one HLEN;
`<prefix>:list:<name>` holds a named list's JSON document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import redis

from tunelake.errors import ConfigError
from tunelake.names import normalise_name
from tunelake.redact import mask_url
from tunelake.storage.serving.documents import chunks, decode, encode_list, encoded_batches
from tunelake.storage.serving.port import ServingUnavailable

_CHUNK = 1_000
_FIX = "start Redis (or fix the URL's host, port and db)"

# One document's upsert, atomic on the server so that two writers renaming the same artist
# cannot leave it in two name sets. KEYS: document, names hash, new name set.
# ARGV: artist_id, JSON, new name key, name-set key prefix.
_UPSERT = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old and old ~= ARGV[3] then
  redis.call('SREM', ARGV[4] .. old, ARGV[1])
end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SET', KEYS[1], ARGV[2])
"""


class RedisServing:
    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = mask_url(url)
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True)
        prefix = query.pop("prefix", ["tunelake"])[-1]
        if not prefix:
            raise ConfigError(f"{self.url}: prefix must not be empty")
        db = parts.path.strip("/")
        if db and not db.isdigit():  # redis-py would quietly use database 0
            raise ConfigError(
                f"TUNELAKE_SERVING_URL {self.url}: the database {db!r} is not a number; "
                "write redis://host:port/0"
            )
        self._artist = f"{prefix}:artist:"
        self._name = f"{prefix}:name:"
        self._names = f"{prefix}:names"
        self._list = f"{prefix}:list:"
        client_url = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        try:
            self._client = redis.Redis.from_url(
                client_url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=True,
            )
        except ValueError as exc:
            raise ConfigError(f"{self.url}: {exc}") from exc
        self._upsert = self._client.register_script(_UPSERT)
        with self._reachable():
            self._client.ping()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise ServingUnavailable(self.url, str(exc), _FIX) from exc

    def put_many(self, documents: Iterable[dict[str, Any]]) -> int:
        written = 0
        with self._reachable():
            for batch in encoded_batches(documents, _CHUNK):
                # Not MULTI/EXEC: each script call is atomic already, and a pipeline without
                # a transaction does not hold up other clients.
                with self._client.pipeline(transaction=False) as pipe:
                    for doc in batch:
                        self._upsert(
                            keys=[
                                self._artist + doc.artist_id,
                                self._names,
                                self._name + doc.name_key,
                            ],
                            args=[doc.artist_id, doc.body, doc.name_key, self._name],
                            client=pipe,
                        )
                    pipe.execute()
                written += len(batch)
        return written

    def get(self, artist_id: str) -> dict[str, Any] | None:
        with self._reachable():
            body = self._client.get(self._artist + artist_id)
        return None if body is None else decode(body)

    def get_many(self, artist_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with self._reachable():
            for ids in chunks(list(dict.fromkeys(artist_ids)), _CHUNK):
                bodies = self._client.mget([self._artist + i for i in ids])
                found.update(
                    (i, decode(b)) for i, b in zip(ids, bodies, strict=True) if b is not None
                )
        return found

    def find_by_name(self, name: str) -> list[dict[str, Any]]:
        with self._reachable():
            members = self._client.smembers(self._name + normalise_name(name))
        ids = sorted(cast(set[str], members))  # decode_responses=True: str members
        found = self.get_many(ids)
        return [found[i] for i in ids if i in found]

    def count(self) -> int:
        with self._reachable():
            return int(self._client.hlen(self._names))

    def put_list(self, name: str, document: dict[str, Any]) -> None:
        body = encode_list(name, document)
        with self._reachable():
            self._client.set(self._list + name, body)

    def get_list(self, name: str) -> dict[str, Any] | None:
        with self._reachable():
            body = self._client.get(self._list + name)
        return None if body is None else decode(body)

    def close(self) -> None:
        self._client.close()
