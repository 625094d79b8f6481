"""Open the serving store a URL names:

- `sqlite:///path/serving.db` (embedded; the default under the tunelake home)
- `redis://[:password@]host:port/db?prefix=tunelake` (also `rediss://`)
- `dynamodb://table-name?endpoint_url=http://127.0.0.1:PORT&region=us-east-1`
  (no endpoint_url: AWS itself; credentials from the environment)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from tunelake.errors import ConfigError
from tunelake.storage.serving.port import (
    InvalidDocument,
    ServingError,
    ServingStore,
    ServingUnavailable,
)

__all__ = [
    "InvalidDocument",
    "ServingError",
    "ServingStore",
    "ServingUnavailable",
    "open_serving",
]


def open_serving(
    url: str, *, timeout: float = 10.0, max_retries: int = 6, read_only: bool = False
) -> ServingStore:
    """The store at url; `timeout` bounds each call (seconds), `max_retries` the retries of
    a throttled DynamoDB batch. A reader says read_only: a SQLite file in a folder it cannot
    write is then opened immutable."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from tunelake.storage.serving.sqlite_store import SqliteServing

        path = url.removeprefix("sqlite:///")
        if path == url or not path:
            raise ConfigError(f"{url}: write a SQLite serving URL as sqlite:///path/serving.db")
        return SqliteServing(Path(path), busy_timeout=timeout, read_only=read_only)
    if scheme in ("redis", "rediss"):
        try:
            from tunelake.storage.serving.redis_store import RedisServing
        except ImportError as exc:
            raise ConfigError("redis:// needs: pip install 'tunelake[redis]'") from exc
        return RedisServing(url, timeout=timeout)
    if scheme == "dynamodb":
        try:
            from tunelake.storage.serving.dynamodb_store import DynamoServing
        except ImportError as exc:
            raise ConfigError("dynamodb:// needs: pip install 'tunelake[dynamodb]'") from exc
        return DynamoServing(url, timeout=timeout, max_retries=max_retries)
    raise ConfigError(
        f"serving URL scheme {scheme or '(none)'!r} is not supported; "
        "use sqlite:///…, redis://… or dynamodb://…"
    )
