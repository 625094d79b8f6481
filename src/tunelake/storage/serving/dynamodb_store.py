"""The serving store on DynamoDB (or a DynamoDB-compatible server such as dynalite).

One item per artist: artist_id (the table's key), name_key, doc (the JSON text: a native
map would normalise numbers, 120.0 coming back as 120) and updated_at. The global secondary
index `name_key-index` (name_key, then artist_id; keys only, so documents are not written
twice) answers find_by_name in artist_id order.
A named list is an item keyed `list#<name>` with no name_key: the index leaves it out, and
reads of artists skip items without one (no artist id holds a `#`, but a request may ask).
The table is created on first use, billed per request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions
from botocore.config import Config
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from tunelake.errors import ConfigError, TransientError
from tunelake.names import normalise_name
from tunelake.redact import mask_url
from tunelake.storage.serving.documents import (
    Encoded,
    chunks,
    decode,
    encode_list,
    encoded_batches,
    utc_now,
)
from tunelake.storage.serving.port import ServingError, ServingUnavailable

NAME_INDEX = "name_key-index"
_WRITE_BATCH = 25  # DynamoDB's BatchWriteItem limit
_GET_BATCH = 100  # DynamoDB's BatchGetItem limit
_WORKERS = 8
_WINDOW = 1_000
"""Documents deduplicated together and then written concurrently, 25 a request: a repeated
id can only race with itself inside one window, where the last one has already won."""
_URL_OPTIONS = {"endpoint_url", "region"}
_LIST_KEY = "list#"
_UNREACHABLE = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


class Throttled(ServingError, TransientError):
    """DynamoDB still left part of a batch unprocessed after every retry."""


class DynamoServing:
    def __init__(self, url: str, *, timeout: float, max_retries: int) -> None:
        self._table, endpoint, region = _parse(url)
        self.url = url
        self._endpoint = mask_url(endpoint) if endpoint else "AWS"
        self._attempts = max_retries + 1
        self._client = _client(
            endpoint,
            region,
            Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"mode": "standard", "total_max_attempts": self._attempts},
                max_pool_connections=_WORKERS,
            ),
        )
        self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="dynamodb-serving")
        with self._reachable():
            self._ensure_table()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except _UNREACHABLE as exc:
            raise ServingUnavailable(
                self.url,
                f"cannot reach {self._endpoint}",
                "start the DynamoDB-compatible server "
                "(tunelake.localservices.dynalite.start_dynalite) or fix endpoint_url",
            ) from exc
        except botocore.exceptions.NoCredentialsError as exc:
            raise ServingUnavailable(
                self.url, "no AWS credentials", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from exc

    def _ensure_table(self) -> None:
        missing = self._client.exceptions.ResourceNotFoundException
        try:
            table = self._client.describe_table(TableName=self._table)["Table"]
        except missing:
            self._create_table()
            table = self._client.describe_table(TableName=self._table)["Table"]
        indexes = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        if NAME_INDEX not in indexes:
            raise ServingError(
                f"DynamoDB table {self._table} has no {NAME_INDEX} index (name_key, artist_id); "
                "choose another table name or add the index"
            )

    def _create_table(self) -> None:
        # Another store object may have created it first: wait for it all the same.
        with suppress(self._client.exceptions.ResourceInUseException):
            self._client.create_table(
                TableName=self._table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "artist_id", "AttributeType": "S"},
                    {"AttributeName": "name_key", "AttributeType": "S"},
                ],
                KeySchema=[{"AttributeName": "artist_id", "KeyType": "HASH"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": NAME_INDEX,
                        "KeySchema": [
                            {"AttributeName": "name_key", "KeyType": "HASH"},
                            {"AttributeName": "artist_id", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
            )
        self._client.get_waiter("table_exists").wait(
            TableName=self._table, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(Throttled),
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=0.05, max=5),
            reraise=True,
        )

    def _throttled(self, what: str, left: int, attempts: int) -> Throttled:
        return Throttled(
            f"DynamoDB table {self._table} left {left} {what} unprocessed after {attempts} "
            "attempts (throttled); retry later or raise the table's capacity"
        )

    @staticmethod
    def _item(doc: Encoded, now: str) -> dict[str, Any]:
        return {
            "artist_id": {"S": doc.artist_id},
            "name_key": {"S": doc.name_key},
            "doc": {"S": doc.body},
            "updated_at": {"S": now},
        }

    def _write(self, items: Sequence[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self._table: [{"PutRequest": {"Item": i}} for i in items]}
        for attempt in self._retrying():
            with attempt:
                response = self._client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if pending:
                    left = len(pending[self._table])
                    raise self._throttled("items", left, attempt.retry_state.attempt_number)

    def _read(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        pending: dict[str, Any] = {
            self._table: {"Keys": [{"artist_id": {"S": i}} for i in ids], "ConsistentRead": True}
        }
        for attempt in self._retrying():
            with attempt:
                response = self._client.batch_get_item(RequestItems=pending)
                found.extend(response["Responses"].get(self._table, []))
                pending = response.get("UnprocessedKeys") or {}
                if pending:
                    left = len(pending[self._table]["Keys"])
                    raise self._throttled("keys", left, attempt.retry_state.attempt_number)
        return found

    def put_many(self, documents: Iterable[dict[str, Any]]) -> int:
        written = 0
        with self._reachable():
            for window in encoded_batches(documents, _WINDOW):
                now = utc_now()
                items = [self._item(doc, now) for doc in window]
                # list() waits for every request and re-raises the first failure.
                list(self._pool.map(self._write, chunks(items, _WRITE_BATCH)))
                written += len(window)
        return written

    def get(self, artist_id: str) -> dict[str, Any] | None:
        with self._reachable():
            response = self._client.get_item(
                TableName=self._table, Key={"artist_id": {"S": artist_id}}, ConsistentRead=True
            )
        item = response.get("Item")
        return None if item is None or "name_key" not in item else _decode(item)

    def get_many(self, artist_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(artist_ids))
        with self._reachable():
            batches = list(self._pool.map(self._read, chunks(ids, _GET_BATCH)))
        return {
            item["artist_id"]["S"]: _decode(item)
            for batch in batches
            for item in batch
            if "name_key" in item
        }

    def find_by_name(self, name: str) -> list[dict[str, Any]]:
        key = normalise_name(name)
        if not key:  # no document has one, and DynamoDB rejects an empty key value
            return []
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=NAME_INDEX,
            KeyConditionExpression="name_key = :k",
            ExpressionAttributeValues={":k": {"S": key}},
        )
        with self._reachable():
            ids = [item["artist_id"]["S"] for page in pages for item in page["Items"]]
        found = self.get_many(ids)
        # The index is eventually consistent: a just-renamed artist may linger under its old
        # name there, but the documents read back are current.
        return [found[i] for i in ids if i in found and normalise_name(found[i]["name"]) == key]

    def count(self) -> int:
        """Exact, by a counting scan: DescribeTable's ItemCount lags by hours on AWS."""
        pages = self._client.get_paginator("scan").paginate(
            TableName=self._table,
            Select="COUNT",
            ConsistentRead=True,
            FilterExpression="attribute_exists(name_key)",  # artists, not lists
        )
        with self._reachable():
            return sum(page["Count"] for page in pages)

    def put_list(self, name: str, document: dict[str, Any]) -> None:
        item = {
            "artist_id": {"S": _LIST_KEY + name},
            "doc": {"S": encode_list(name, document)},
            "updated_at": {"S": utc_now()},
        }
        with self._reachable():
            self._client.put_item(TableName=self._table, Item=item)

    def get_list(self, name: str) -> dict[str, Any] | None:
        with self._reachable():
            response = self._client.get_item(
                TableName=self._table,
                Key={"artist_id": {"S": _LIST_KEY + name}},
                ConsistentRead=True,
            )
        item = response.get("Item")
        return None if item is None else _decode(item)

    def close(self) -> None:
        self._pool.shutdown()
        self._client.close()


def _decode(item: dict[str, Any]) -> dict[str, Any]:
    return decode(item["doc"]["S"])


def _parse(url: str) -> tuple[str, str | None, str | None]:
    """Table name, endpoint URL and region of a dynamodb:// URL."""
    parts = urlsplit(url)
    table = parts.netloc
    if not 3 <= len(table) <= 255:
        raise ConfigError(f"DynamoDB table name {table!r} must be 3-255 characters")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - _URL_OPTIONS
    if unknown:  # not echoing the URL: its unknown options may be misplaced credentials
        raise ConfigError(
            f"dynamodb://{table}: unknown URL option(s) {sorted(unknown)}; allowed: "
            f"{sorted(_URL_OPTIONS)} (credentials come from the environment, never the URL)"
        )
    return table, query.get("endpoint_url"), query.get("region")


@cache
def _session() -> boto3.session.Session:
    # One session per process: each new one reloads botocore's service models (~0.1 s).
    return boto3.session.Session()


_SESSION_LOCK = threading.Lock()


def _client(endpoint: str | None, region: str | None, config: Config) -> Any:
    with _SESSION_LOCK:  # creating clients from one session is not thread-safe
        session = _session()
        credentials: dict[str, str] = {}
        if endpoint and session.get_credentials() is None:
            # Local servers (dynalite, DynamoDB Local) take any key, but botocore must sign.
            credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        return session.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name=region or session.region_name or "us-east-1",
            config=config,
            **credentials,
        )
