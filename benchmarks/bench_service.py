"""The service under load: `GET /artists/{id}/similar` (one key lookup in the serving store)
against `GET /ping` (a constant from the same app: the framework's own limit on this machine),
on the SQLite and Redis serving stores.

The server is `tunelake serve` in a process of its own, over the stores of a real pipeline run
(the built-in catalog, --artists artists); the load comes from this process (asyncio + httpx,
keep-alive connections), random known ids, each phase bounded in time:

- closed loop: --connections connections sending back to back for --seconds: requests per
  second, p50 and p99 latency; the similar lookup's rate as a fraction of the bare endpoint's;
- open loop: --rate requests per second (sent on schedule, not waiting for answers) for
  --seconds: p50 and p99 latency at that rate, against the target p99 < 20 ms.

    .venv/bin/python benchmarks/bench_service.py [--artists 300] [--seconds 8]
        [--connections 16] [--rate 200] [--backends sqlite,redis]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import redis

from tunelake import app as use_cases
from tunelake.config import Settings, load_settings
from tunelake.pipeline.resources import reading_warehouse

REDIS = "redis://127.0.0.1:6379/0"
DT = date(2026, 11, 26)
TARGET_P99_MS = 20.0


@dataclass
class Figures:
    sent: int
    failed: int
    seconds: float
    latencies_ms: np.ndarray
    server_cpu_s: float = 0.0
    """CPU time the server process spent: per request, a figure the machine's load does not
    change much, unlike the rates and latencies."""

    @property
    def rps(self) -> float:
        return (self.sent - self.failed) / self.seconds

    def line(self, label: str) -> str:
        p50, p99 = np.percentile(self.latencies_ms, [50, 99])
        cpu_us = self.server_cpu_s / max(self.sent - self.failed, 1) * 1e6
        return (
            f"  {label:<34} {self.rps:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
            f"   server CPU {cpu_us:5.0f} us/req   ({self.sent} sent, {self.failed} failed)"
        )

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu_s / max(self.sent - self.failed, 1)

    @property
    def p99(self) -> float:
        return float(np.percentile(self.latencies_ms, 99))


async def _one(client: httpx.AsyncClient, path: str, latencies: list[float]) -> bool:
    start = time.perf_counter()
    try:
        answer = await client.get(path)
    except httpx.HTTPError:
        return False
    latencies.append((time.perf_counter() - start) * 1000)
    return answer.status_code == 200


def _client(base: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=10)


async def closed_loop(base: str, paths: list[str], connections: int, seconds: float) -> Figures:
    latencies: list[float] = []
    sent = failed = 0
    async with _client(base, connections) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal sent, failed
            while time.perf_counter() < deadline:
                sent += 1
                failed += not await _one(client, random.choice(paths), latencies)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    return Figures(sent, failed, elapsed, np.array(latencies))


async def open_loop(base: str, paths: list[str], rate: float, seconds: float) -> Figures:
    """Requests sent on a fixed schedule whatever the answers do: latency at a given load."""
    latencies: list[float] = []
    total = int(rate * seconds)
    async with _client(base, 256) as client:
        start = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(client, random.choice(paths), latencies)))
        results = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return Figures(total, results.count(False), elapsed, np.array(latencies))


def measured(server: psutil.Process, phase: Coroutine[Any, Any, Figures]) -> Figures:
    before = sum(server.cpu_times()[:2])
    figures = asyncio.run(phase)
    figures.server_cpu_s = sum(server.cpu_times()[:2]) - before
    return figures


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[str, psutil.Process]]:
    """`tunelake serve` on a free port over settings' stores, in a process of its own."""
    env = {**os.environ, "TUNELAKE_HOME": str(settings.home)}
    if settings.serving_url:
        env["TUNELAKE_SERVING_URL"] = settings.serving_url
    process = subprocess.Popen(
        [sys.executable, "-m", "tunelake", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        if not found:
            raise RuntimeError("tunelake serve did not print its URL")
        yield found[0], psutil.Process(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def publish(home: Path, artists: int, serving_url: str | None) -> tuple[Settings, list[str]]:
    settings = load_settings(home=home, catalog_artists=artists, serving_url=serving_url)
    use_cases.run(settings, dt=DT)
    with reading_warehouse(settings) as warehouse:
        ids = warehouse.read("artists")["artist_id"].to_pylist()
    return settings, ids


def bench(label: str, settings: Settings, ids: list[str], args: argparse.Namespace) -> None:
    similar = [f"/artists/{i}/similar" for i in ids]
    with serving(settings) as (base, server):
        # warm up: the first lookup opens the store, the first requests fill the pools
        asyncio.run(closed_loop(base, [*similar, "/ping"], args.connections, 1.0))
        bare = measured(server, closed_loop(base, ["/ping"], args.connections, args.seconds))
        lookup = measured(server, closed_loop(base, similar, args.connections, args.seconds))
        paced = measured(server, open_loop(base, similar, args.rate, args.seconds))
    print(f"{label} serving store ({len(ids)} artists)")
    print(bare.line(f"GET /ping, {args.connections} connections"))
    print(lookup.line(f"GET /similar, {args.connections} connections"))
    print(paced.line(f"GET /similar at {args.rate:.0f} req/s"))
    verdict = "met" if paced.p99 < TARGET_P99_MS and paced.failed == 0 else "MISSED"
    print(
        f"  similar / bare throughput: {lookup.rps / bare.rps:.2f} (target >= 0.50); "
        f"server CPU per request, bare / similar: {bare.cpu_per_request / lookup.cpu_per_request:.2f}; "
        f"p99 at {args.rate:.0f} req/s: {paced.p99:.2f} ms (target < {TARGET_P99_MS:.0f} ms): {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artists", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase (at most 30)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--backends", default="sqlite,redis")
    args = parser.parse_args()
    args.seconds = min(args.seconds, 30.0)
    print(f"machine: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                settings, ids = publish(Path(tmp) / "sqlite", args.artists, None)
                bench("SQLite", settings, ids, args)
            elif backend == "redis":
                prefix = f"tunelake-bench-service-{uuid.uuid4().hex[:8]}"
                try:
                    settings, ids = publish(
                        Path(tmp) / "redis", args.artists, f"{REDIS}?prefix={prefix}"
                    )
                    bench("Redis", settings, ids, args)
                finally:
                    client = redis.Redis.from_url(REDIS)
                    keys = list(client.scan_iter(f"{prefix}:*"))
                    if keys:
                        client.delete(*keys)
                    client.close()
            else:
                raise SystemExit(f"unknown backend {backend!r}: sqlite or redis")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
