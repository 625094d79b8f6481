"""Benchmark of tunelake's music-API client (tunelake.sources) against the catalog server.

The workload: ingest N artists given by name (the catalog's seed names) — their artist records,
top tracks and the audio features of those tracks — from a catalog server in a child process
(its own GIL), profile `extended`.

- latency-bound: 20 ms added to every API call, no rate limit. tunelake's client against a
  course-style baseline written here: sequential, a plain httpx.Client, one search, one
  top-tracks and one audio-features call per artist. The baseline is timed on a sample
  (--baseline-artists) and scaled to N, which it says. Both are timed --repeat times on one
  server and the fastest run counts: the client is CPU-bound, so other load on the machine
  shows in its figure (the load average is printed).
- rate-bound: the server admits 1,500 requests per rolling 30 s (50/s), no latency. The client
  is told the rate (`requests_per_second=50`) and paces itself; the figure is the wall time
  against the bound (API requests ÷ 50/s) and the 429s it got.

Prints figures and ratios against the targets; asserts nothing. Run:
  .venv/bin/python benchmarks/bench_sources.py [--artists N] [--baseline-artists M]
      [--concurrency C] [--repeat R] [--only latency|rate]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tunelake.names import normalise_name
from tunelake.sources.catalog.options import CatalogOptions, FaultOptions
from tunelake.sources.catalog.server import RunningCatalogProcess, serve_in_process
from tunelake.sources.spotify import SpotifyClient

LATENCY_MS = 20.0
RATE_LIMIT, RATE_WINDOW = 1500, 30.0
RATE = RATE_LIMIT / RATE_WINDOW


@dataclass(frozen=True)
class Result:
    artists: int
    requests: int
    """HTTP requests the client sent, the token included."""
    seconds: float
    top_tracks: int
    features: int

    @property
    def per_artist(self) -> float:
        return self.requests / self.artists


def options(n_artists: int, **kw: Any) -> CatalogOptions:
    # a few names are shared by several artists: generate enough for n distinct names
    return CatalogOptions(seed=42, n_artists=n_artists + n_artists // 20 + 10, **kw)


def seed_names(server: RunningCatalogProcess, n: int) -> list[str]:
    names = server.catalog.seed_names(n)
    if len(names) < n:
        raise SystemExit(f"the catalog has only {len(names)} distinct names, not {n}")
    return names


async def tunelake_ingest(
    server: RunningCatalogProcess, names: Sequence[str], **client_options: Any
) -> tuple[Result, SpotifyClient]:
    client = SpotifyClient(
        accounts_url=server.accounts_url,
        api_url=server.api_url,
        client_id=server.options.client_id,
        client_secret=server.options.client_secret,
        reccobeats_url=server.reccobeats_url,
        **client_options,
    )
    async with client:
        start = time.perf_counter()
        pages = await asyncio.gather(*(client.search_artists(n, max_results=10) for n in names))
        ids = [
            a.artist_id
            for name, page in zip(names, pages, strict=True)
            for a in page
            if normalise_name(a.name) == normalise_name(name)
        ]
        top = await client.top_tracks(ids)
        track_ids = [t.track_id for tracks in top.values() for t in tracks]
        features = await client.audio_features(track_ids)
        seconds = time.perf_counter() - start
    return Result(len(top), client.requests, seconds, len(track_ids), len(features)), client


def baseline_ingest(server: RunningCatalogProcess, names: Sequence[str]) -> Result:
    """The course-project way: one artist after another, one call after another."""
    requests = artists = tracks = features = 0
    with httpx.Client(timeout=30) as http:
        start = time.perf_counter()
        secret = server.options.client_secret.get_secret_value()
        token = http.post(
            f"{server.accounts_url}/api/token",
            data={"grant_type": "client_credentials"},
            auth=(server.options.client_id, secret),
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        requests += 1
        for name in names:
            search = http.get(
                f"{server.api_url}/search", params={"q": name, "type": "artist", "limit": 1}
            )
            requests += 1
            items = search.json()["artists"]["items"]
            if not items:
                continue
            artists += 1
            top = http.get(
                f"{server.api_url}/artists/{items[0]['id']}/top-tracks", params={"market": "US"}
            )
            requests += 1
            ids = [t["id"] for t in top.json()["tracks"]]
            tracks += len(ids)
            if ids:
                answer = http.get(f"{server.api_url}/audio-features", params={"ids": ",".join(ids)})
                requests += 1
                features += sum(f is not None for f in answer.json()["audio_features"])
        seconds = time.perf_counter() - start
    return Result(artists, requests, seconds, tracks, features)


def show(label: str, r: Result) -> None:
    print(
        f"  {label:<28} {r.artists:>6} artists  {r.requests:>6} requests "
        f"({r.per_artist:.2f}/artist)  {r.seconds:7.2f} s  {r.artists / r.seconds:8.1f} artists/s  "
        f"{r.top_tracks} top tracks, {r.features} with features"
    )


def fastest(runs: list[Result]) -> Result:
    print("    runs: " + ", ".join(f"{r.seconds:.2f} s" for r in runs))
    return min(runs, key=lambda r: r.seconds)


def latency_bound(n: int, sample: int, concurrency: int, repeat: int) -> None:
    print(f"\nlatency-bound: {n} artists by name, {LATENCY_MS:g} ms per API call, no rate limit")
    with serve_in_process(options(n, faults=FaultOptions(latency_ms=LATENCY_MS))) as server:
        names = seed_names(server, n)
        label = f"tunelake (concurrency {concurrency})"
        print(f"  {label}")
        ours = fastest(
            [
                asyncio.run(tunelake_ingest(server, names, concurrency=concurrency))[0]
                for _ in range(repeat)
            ]
        )
        print(f"  baseline (sequential, {sample})")
        base = fastest([baseline_ingest(server, names[:sample]) for _ in range(repeat)])
    show(label, ours)
    show(f"baseline (sequential, {sample})", base)
    scaled = base.seconds * n / sample
    print(f"  baseline scaled to {n} artists: {scaled:.1f} s (timed on {sample}, x {n / sample:g})")
    print(
        f"  speed-up: {scaled / ours.seconds:.1f}x (per artist: {base.seconds / base.artists * 1000:.1f}"
        f" ms vs {ours.seconds / ours.artists * 1000:.2f} ms); target ≥ 10x"
    )
    print(f"  requests per artist: {ours.per_artist:.2f} vs {base.per_artist:.2f}; target ≤ 2.2")


def rate_bound(n: int, concurrency: int) -> None:
    print(
        f"\nrate-bound: {n} artists by name, server limit {RATE_LIMIT} per {RATE_WINDOW:g} s "
        f"({RATE:g}/s), no latency; client paced by requests_per_second={RATE:g}"
    )
    opts = options(n, rate_limit=RATE_LIMIT, rate_window=RATE_WINDOW)
    with serve_in_process(opts) as server:
        names = seed_names(server, n)
        ours, client = asyncio.run(
            tunelake_ingest(server, names, concurrency=concurrency, requests_per_second=RATE)
        )
        stats = server.stats
    api_requests = stats.api_requests
    bound = api_requests / RATE
    show(f"tunelake (concurrency {concurrency})", ours)
    print(
        f"  API requests {api_requests} (+{ours.requests - api_requests} token) → bound {bound:.1f} s"
    )
    print(f"  wall time / bound: {ours.seconds / bound:.3f}; target ≤ 1.25")
    throttled = stats.count(status=429)
    print(
        f"  429s: {throttled} ({throttled / api_requests:.2%} of requests; the client saw "
        f"{client.throttled}); target ≤ 1%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artists", type=int, default=1000, help="artists to ingest (1000)")
    parser.add_argument(
        "--baseline-artists", type=int, default=200, help="the baseline's sample (200)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="client concurrency (16)")
    parser.add_argument("--only", choices=("latency", "rate"), help="run one scenario")
    parser.add_argument(
        "--repeat", type=int, default=3, help="latency-bound runs, the best counts (3)"
    )
    args = parser.parse_args()
    if min(args.artists, args.baseline_artists, args.concurrency, args.repeat) < 1:
        parser.error("--artists, --baseline-artists, --concurrency and --repeat must be ≥ 1")
    # the latency-bound figures are CPU-bound on the client: say how busy the machine was
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if args.only != "rate":
        sample = min(args.baseline_artists, args.artists)
        latency_bound(args.artists, sample, args.concurrency, args.repeat)
    if args.only != "latency":
        rate_bound(args.artists, args.concurrency)


if __name__ == "__main__":
    main()
