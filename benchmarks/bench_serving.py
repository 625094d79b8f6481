"""Serving-store throughput: bulk writes (put_many) and one-by-one reads (get) on SQLite,
Redis and DynamoDB-local (dynalite), each against a naive write loop measured in the same
process: one INSERT+COMMIT per document (SQLite), one SET per document (Redis, without the
name index), one put_item per document (DynamoDB). The baselines run on a sample
(--baseline-sample documents) and are compared as rates (documents per second).

    .venv/bin/python benchmarks/bench_serving.py [--docs 100000] [--reads 10000]
        [--baseline-sample 5000] [--backends sqlite,redis,dynamodb]
        [--redis-url redis://127.0.0.1:6379/0]

Redis must be running at --redis-url; dynalite is started here (npm-installed on first use).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import string
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import redis

from tunelake.localservices.dynalite import start_dynalite
from tunelake.storage.serving import ServingStore, ServingUnavailable, open_serving

Doc = dict[str, Any]
BASE62 = string.ascii_letters + string.digits
WORDS = [
    "blue",
    "night",
    "river",
    "echo",
    "golden",
    "neon",
    "velvet",
    "paper",
    "ghost",
    "summer",
    "city",
    "wild",
    "silver",
    "broken",
    "electric",
    "honey",
    "midnight",
    "ocean",
    "fire",
    "glass",
    "静",
    "밤",
    "노래",
    "amor",
    "corazón",
]
GENRES = [
    "indie rock",
    "k-pop",
    "synthwave",
    "jazz fusion",
    "dream pop",
    "hip hop",
    "techno",
    "folk",
    "metal",
]


def spotify_id(rng: random.Random) -> str:
    return "".join(rng.choices(BASE62, k=22))


def title(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).title()


def artist_documents(n: int, seed: int = 42) -> list[Doc]:
    """n artist documents shaped like the pipeline's (artist, genres, 10 top tracks, 10
    related artists), about 1 KB of JSON each."""
    rng = random.Random(seed)
    ids = [spotify_id(rng) for _ in range(n)]
    names = [title(rng, rng.randint(1, 3)) for _ in range(n)]
    docs = []
    for i, artist_id in enumerate(ids):
        related = rng.sample(range(n), 10)
        docs.append(
            {
                "artist_id": artist_id,
                "name": names[i],
                "genres": rng.sample(GENRES, rng.randint(1, 3)),
                "popularity": rng.randint(0, 100),
                "followers": rng.randint(0, 50_000_000),
                "top_tracks": [
                    {"rank": r, "name": title(rng, 2), "duration_ms": rng.randint(90_000, 420_000)}
                    for r in range(1, 11)
                ],
                "related_artists": [
                    {"rank": r, "artist_id": ids[j], "distance": round(rng.random(), 4)}
                    for r, j in enumerate(related, start=1)
                ],
                "dt": "2026-11-26",
            }
        )
    return docs


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def read_latencies(store: ServingStore, ids: list[str]) -> np.ndarray:
    latencies = np.empty(len(ids))
    for i, artist_id in enumerate(ids):
        started = time.perf_counter()
        if store.get(artist_id) is None:
            raise RuntimeError(f"{store.url}: {artist_id} was written but reads as missing")
        latencies[i] = time.perf_counter() - started
    return latencies


def body(doc: Doc) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


# naive baselines: one round trip (or commit) per document ---------------------------------


def naive_sqlite(path: Path, docs: list[Doc]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)  # autocommit: a commit per INSERT
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE docs (artist_id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    for doc in docs:
        conn.execute("INSERT OR REPLACE INTO docs VALUES (?, ?)", (doc["artist_id"], body(doc)))
    conn.close()


def naive_redis(url: str, prefix: str, docs: list[Doc]) -> None:
    client = redis.Redis.from_url(url)
    for doc in docs:
        client.set(f"{prefix}:naive:{doc['artist_id']}", body(doc))
    client.close()


def naive_dynamodb(endpoint_url: str, docs: list[Doc]) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    client.create_table(
        TableName="naive",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "artist_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "artist_id", "KeyType": "HASH"}],
    )
    for doc in docs:
        client.put_item(
            TableName="naive",
            Item={"artist_id": {"S": doc["artist_id"]}, "doc": {"S": body(doc)}},
        )


# backends: each yields (store URL, baseline) and cleans up after ----------------------------

Backend = Iterator[tuple[str, Callable[[list[Doc]], None]]]


@contextmanager
def sqlite_backend(workdir: Path, _: argparse.Namespace) -> Backend:
    yield (
        f"sqlite:///{workdir / 'serving.db'}",
        lambda docs: naive_sqlite(workdir / "naive.db", docs),
    )


@contextmanager
def redis_backend(_: Path, args: argparse.Namespace) -> Backend:
    prefix = f"bench-serving-{uuid.uuid4().hex[:8]}"
    try:
        yield (
            f"{args.redis_url}?prefix={prefix}",
            lambda docs: naive_redis(args.redis_url, prefix, docs),
        )
    finally:
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=10_000))
        for start in range(0, len(keys), 10_000):
            client.delete(*keys[start : start + 10_000])
        client.close()


@contextmanager
def dynamodb_backend(workdir: Path, _: argparse.Namespace) -> Backend:
    with start_dynalite(workdir / "dynalite") as server:
        print(f"  dynalite (LevelDB on disk) answered {server.startup_seconds:.2f} s after launch")
        yield (
            f"dynamodb://serving?endpoint_url={server.endpoint_url}&region=us-east-1",
            lambda docs: naive_dynamodb(server.endpoint_url, docs),
        )


BACKENDS = {"sqlite": sqlite_backend, "redis": redis_backend, "dynamodb": dynamodb_backend}


def bench(name: str, args: argparse.Namespace, docs: list[Doc], workdir: Path) -> None:
    print(f"\n{name}")
    rng = random.Random(7)
    read_ids = [d["artist_id"] for d in rng.choices(docs, k=args.reads)]
    sample = docs[: args.baseline_sample]
    try:
        with BACKENDS[name](workdir, args) as (url, naive):
            store = open_serving(url)
            try:
                write_s = timed(lambda: store.put_many(docs))
                if store.count() != len(docs):
                    raise RuntimeError(f"{name}: count {store.count()} after {len(docs)} writes")
                latencies = read_latencies(store, read_ids)
                many_s = timed(lambda: store.get_many(read_ids))
            finally:
                store.close()
            naive_s = timed(lambda: naive(sample))
    except ServingUnavailable as exc:
        print(f"  skipped: {exc}")
        return
    store_rate, naive_rate = rate(len(docs), write_s), rate(len(sample), naive_s)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1e3
    print(
        f"  write put_many    {len(docs):>7,} docs in {write_s:7.2f} s = {store_rate:>9,.0f} docs/s"
    )
    print(
        f"  baseline naive    {len(sample):>7,} docs in {naive_s:7.2f} s = {naive_rate:>9,.0f} docs/s"
        f"  (100k would take ~{rate(100_000, naive_rate):,.0f} s)"
    )
    print(f"  write speed-up    {store_rate / naive_rate:>7.1f}x over the naive loop")
    print(
        f"  read get          {len(read_ids):>7,} docs in {latencies.sum():7.2f} s = "
        f"{rate(len(read_ids), latencies.sum()):>9,.0f} docs/s   p50 {p50:.3f} ms  p99 {p99:.3f} ms"
    )
    print(
        f"  read get_many     {len(read_ids):>7,} ids  in {many_s:7.2f} s = "
        f"{rate(len(read_ids), many_s):>9,.0f} docs/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=10_000)
    parser.add_argument("--baseline-sample", type=int, default=5_000)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    names = args.backends.split(",")
    unknown = set(names) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; choose from {sorted(BACKENDS)}")

    docs = artist_documents(args.docs)
    size = np.mean([len(body(d).encode()) for d in docs[:1_000]])
    print(f"{len(docs):,} artist documents, {size:,.0f} bytes of JSON each on average")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as workdir:
        for name in names:
            bench(name, args, docs, Path(workdir))


if __name__ == "__main__":
    main()
