"""SpotifyClient against the real catalog server on loopback, in both API profiles, fault-free
and under faults; replay of what it captured gives back what it returned."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from tunelake.config import Settings
from tunelake.errors import ConfigError
from tunelake.models import Artist, AudioFeatures, TopTrack, Track
from tunelake.names import normalise_name
from tunelake.sources.catalog.options import CatalogOptions, FaultOptions
from tunelake.sources.catalog.server import RunningCatalog, serve_in_thread
from tunelake.sources.errors import (
    ApiRefused,
    RateLimitedError,
    RetriesExhaustedError,
)
from tunelake.sources.parse import Album
from tunelake.sources.raw_responses import RawResponse
from tunelake.sources.replay import Extracted, newest_first, replay
from tunelake.sources.spotify import SpotifyClient

ARTISTS = 200
SECRET = "tunelake-secret"


def serve(**options: Any) -> Any:
    return serve_in_thread(CatalogOptions(seed=42, n_artists=ARTISTS, **options))


@pytest.fixture(scope="module")
def extended() -> Iterator[RunningCatalog]:
    with serve() as server:
        yield server


@pytest.fixture(scope="module")
def development() -> Iterator[RunningCatalog]:
    with serve(profile="development") as server:
        yield server


def client_for(
    server: RunningCatalog, captured: list[RawResponse] | None = None, **kw: Any
) -> SpotifyClient:
    return SpotifyClient(
        accounts_url=server.accounts_url,
        api_url=server.api_url,
        client_id=server.options.client_id,
        client_secret=kw.pop("client_secret", SecretStr(SECRET)),
        reccobeats_url=server.reccobeats_url,
        on_response=None if captured is None else captured.append,
        **kw,
    )


@dataclass
class Run:
    """What the client's methods returned for one ingest, and the responses it captured."""

    searched: list[Artist] = field(default_factory=list)
    artists: list[Artist] = field(default_factory=list)
    top: dict[str, list[Track]] = field(default_factory=dict)
    features: list[AudioFeatures] = field(default_factory=list)
    raw: list[RawResponse] = field(default_factory=list)

    def records(self) -> Extracted:
        tracks = {t.track_id: t for ranked in self.top.values() for t in ranked}
        return Extracted(
            artists=list({a.artist_id: a for a in self.searched + self.artists}.values()),
            tracks=list(tracks.values()),
            top_tracks=[
                TopTrack(artist_id=a, track_id=t.track_id, rank=rank)
                for a, ranked in self.top.items()
                for rank, t in enumerate(ranked, start=1)
            ],
            audio_features=self.features,
        )


async def ingest(client: SpotifyClient, names: list[str], run: Run) -> Run:
    """Discover by name (exact matches), then artists, top tracks and audio features."""
    async with client:
        pages = await asyncio.gather(*(client.search_artists(n, max_results=10) for n in names))
        run.searched = [a for page in pages for a in page]
        wanted = {normalise_name(n) for n in names}
        ids = list(
            dict.fromkeys(a.artist_id for a in run.searched if normalise_name(a.name) in wanted)
        )
        run.artists = await client.get_artists(ids)
        run.top = await client.top_tracks(ids)
        run.features = await client.audio_features(
            [t.track_id for ts in run.top.values() for t in ts]
        )
    return run


def ingest_from(server: RunningCatalog, names: list[str], **kw: Any) -> Run:
    run = Run()
    return asyncio.run(ingest(client_for(server, run.raw, **kw), names, run))


def canonical(extracted: Extracted) -> tuple[list[Any], ...]:
    """Records sorted by key, after checking that no key appears twice."""
    keyed = (
        (extracted.artists, lambda r: r.artist_id),
        (extracted.tracks, lambda r: r.track_id),
        (extracted.top_tracks, lambda r: (r.artist_id, r.rank)),
        (extracted.audio_features, lambda r: r.track_id),
    )
    out = []
    for records, key in keyed:
        keys = [key(r) for r in records]
        assert len(keys) == len(set(keys)), "a record came twice"
        out.append(sorted(records, key=key))
    return tuple(out)


def names(server: RunningCatalog, n: int) -> list[str]:
    return server.catalog.seed_names()[:n]


def api_successes(server: RunningCatalog) -> int:
    return server.stats.count(status=200) - server.stats.count("token", 200)


# -- both profiles, fault-free -------------------------------------------------------------


def test_extended_profile(extended: RunningCatalog) -> None:
    extended.reset()
    catalog = extended.catalog
    run = ingest_from(extended, names(extended, 20))
    ids = list(run.top)
    assert ids and set(ids) == {i for n in names(extended, 20) for i in catalog.find_artists(n)}
    assert sorted(run.artists, key=lambda a: a.artist_id) == [
        catalog.artist(i) for i in sorted(ids)
    ]
    for artist_id, ranked in run.top.items():
        assert [t.track_id for t in ranked] == catalog.top_tracks(artist_id)
        assert ranked == [catalog.track(t.track_id) for t in ranked]
    track_ids = {t.track_id for ranked in run.top.values() for t in ranked}
    expected = [catalog.audio_features(t) for t in sorted(track_ids)]
    assert sorted(run.features, key=lambda f: f.track_id) == [f for f in expected if f is not None]
    # one call per batch: several artists and audio features are batched, not per id
    assert extended.stats.count("several_artists") == 1
    assert extended.stats.count("several_audio_features") == -(-len(track_ids) // 100)
    assert extended.stats.count("artist") == 0
    # every successful response was handed over, and replays to what the client returned
    assert len(run.raw) == api_successes(extended)
    assert canonical(replay(run.raw)) == canonical(run.records())


def test_extended_related_artists_and_capabilities(extended: RunningCatalog) -> None:
    ids = extended.catalog.artist_ids()[:3]

    async def main() -> tuple[dict[str, list[Artist]], SpotifyClient]:
        async with client_for(extended) as client:
            return await client.related_artists(ids), client

    related, client = asyncio.run(main())
    assert {a: [r.artist_id for r in rs] for a, rs in related.items()} == {
        a: extended.catalog.related_artists(a) for a in ids
    }
    assert client.capabilities.related_artists is True


def newest_tracks(server: RunningCatalog, artist_id: str) -> list[str]:
    """What the albums fallback should choose: the newest albums' and singles' tracks."""
    catalog = server.catalog
    albums = [catalog.album(a) for a in catalog.album_ids(artist_id, ("album", "single"))]
    order = newest_first([Album(a.album_id, a.name, a.release_date) for a in albums])
    by_id = {a.album_id: a for a in albums}
    track_ids = [t for album in order for t in by_id[album.album_id].track_ids]
    return list(dict.fromkeys(track_ids))[:10]


def test_development_profile_falls_back(development: RunningCatalog) -> None:
    development.reset()
    catalog = development.catalog
    run = ingest_from(development, names(development, 12))
    ids = list(run.top)
    # several artists is gone: one GET each, and the 2026 payload lacks the removed fields
    assert sorted(run.artists, key=lambda a: a.artist_id) == [
        catalog.artist(i).model_copy(update={"genres": None, "popularity": None, "followers": None})
        for i in sorted(ids)
    ]
    # top tracks come from the albums walk: the newest releases
    for artist_id, ranked in run.top.items():
        assert [t.track_id for t in ranked] == newest_tracks(development, artist_id)
        assert all(t.album_id and t.release_date and t.popularity is None for t in ranked)
    assert sum(len(r) for r in run.top.values()) > 0
    # audio features come from ReccoBeats, with the values Spotify would have given
    track_ids = {t.track_id for ranked in run.top.values() for t in ranked}
    assert {f.source for f in run.features} == {"reccobeats"}
    for features in run.features:
        expected = catalog.audio_features(features.track_id)
        assert expected is not None
        assert features.model_dump(exclude={"source", "time_signature", "duration_ms"}) == (
            expected.model_dump(exclude={"source", "time_signature", "duration_ms"})
        )
    with_features = {t for t in track_ids if catalog.audio_features(t) is not None}
    assert {f.track_id for f in run.features} == with_features
    # each removed endpoint was tried once, then skipped
    for kind in ("several_artists", "top_tracks", "several_audio_features"):
        assert development.stats.count(kind, 403) == 1
    assert len(run.raw) == api_successes(development)
    assert canonical(replay(run.raw)) == canonical(run.records())


def test_development_capabilities_and_search_limit(development: RunningCatalog) -> None:
    name = names(development, 1)[0]

    async def main() -> tuple[list[Artist], dict[str, list[Artist]], SpotifyClient]:
        async with client_for(development) as client:
            found = await client.search_artists(name, limit=20, max_results=20)
            return found, await client.related_artists([found[0].artist_id]), client

    found, related, client = asyncio.run(main())
    assert [a.artist_id for a in found] == development.catalog.search(name)[:20]
    assert client.capabilities.search_limit == 10
    assert related == {} and client.capabilities.related_artists is False


def test_search_follows_pages(extended: RunningCatalog) -> None:
    expected = extended.catalog.search("the")
    assert len(expected) > 25  # several pages of 10

    async def main() -> tuple[list[Artist], list[Artist]]:
        async with client_for(extended) as client:
            return (
                await client.search_artists("the", limit=10),
                await client.search_artists("the", limit=10, max_results=15),
            )

    everything, first_15 = asyncio.run(main())
    assert [a.artist_id for a in everything] == expected
    assert [a.artist_id for a in first_15] == expected[:15]


def test_top_tracks_by_popularity_where_only_top_tracks_is_gone(extended: RunningCatalog) -> None:
    """Albums walk + /tracks?ids=: the most popular of the artist's album and single tracks."""
    catalog = extended.catalog
    artist_id = catalog.artist_ids()[5]
    captured: list[RawResponse] = []

    async def main() -> dict[str, list[Track]]:
        async with client_for(extended, captured) as client:
            client.capabilities.top_tracks = False  # as if the probe had been answered 403
            return await client.top_tracks([artist_id])

    ranked = asyncio.run(main())[artist_id]
    albums = catalog.album_ids(artist_id, ("album", "single"))
    candidates = [catalog.track(t) for a in albums for t in catalog.album(a).track_ids]
    best = sorted(candidates, key=lambda t: -(t.popularity or 0))[:10]
    assert [t.popularity for t in ranked] == [t.popularity for t in best]
    assert {t.track_id for t in ranked} <= {t.track_id for t in candidates}
    assert {r.endpoint for r in captured} == {"artist_albums", "album_tracks", "tracks"}
    assert replay(captured).tracks == ranked


def test_from_settings(extended: RunningCatalog) -> None:
    settings = Settings.model_validate(
        {
            "spotify_client_id": SecretStr(extended.options.client_id),
            "spotify_client_secret": SecretStr(SECRET),
            "market": "GB",
            "concurrency": 2,
        }
    )
    client = SpotifyClient.from_settings(
        settings, accounts_url=extended.accounts_url, api_url=extended.api_url
    )
    assert client.market == "GB"
    name = names(extended, 1)[0]

    async def main() -> list[Artist]:
        async with client:
            return await client.search_artists(name, max_results=1)

    assert [a.artist_id for a in asyncio.run(main())] == extended.catalog.search(name)[:1]
    with pytest.raises(ConfigError, match="TUNELAKE_SPOTIFY_CLIENT_SECRET"):
        no_secret = {"spotify_client_id": SecretStr("x"), "spotify_client_secret": None}
        SpotifyClient.from_settings(Settings.model_validate(no_secret))


# -- faults ---------------------------------------------------------------------------------


def test_token_expiring_mid_run_is_refreshed() -> None:
    with serve(token_ttl=1, faults=FaultOptions(latency_ms=200)) as server:
        run = ingest_from(server, names(server, 5), concurrency=2)
        assert server.stats.count("token") >= 2  # the run outlives a token
    for artist_id, ranked in run.top.items():
        assert [t.track_id for t in ranked] == server.catalog.top_tracks(artist_id)


def test_a_refused_token_is_refreshed_once_then_reported(extended: RunningCatalog) -> None:
    """A token the API does not accept (here: one from another server) is replaced once per
    request, and a second refusal is an error, not a loop."""
    artist_id = extended.catalog.artist_ids()[0]
    with serve() as other:
        client = SpotifyClient(
            accounts_url=other.accounts_url,
            api_url=extended.api_url,
            client_id="tunelake",
            client_secret=SecretStr(SECRET),
        )
        extended.reset()

        async def main() -> None:
            async with client:
                await client.top_tracks([artist_id])

        with pytest.raises(
            ApiRefused, match="top_tracks: the API answered 401: Invalid access token"
        ):
            asyncio.run(main())
        assert other.stats.count("token") == 2
    assert extended.stats.count("top_tracks", 401) == 2


@pytest.mark.parametrize("n_artists", [15, pytest.param(50, marks=pytest.mark.slow)])
def test_429_storm_and_5xx_lose_nothing_and_duplicate_nothing(
    extended: RunningCatalog, n_artists: int
) -> None:
    fault_free = ingest_from(extended, names(extended, n_artists))
    faults = FaultOptions(
        seed=7, error_5xx=0.2, burst_429=0.05, burst_length=5, burst_retry_after=0.1, drop=0.02
    )
    with serve(faults=faults) as server:
        run = ingest_from(server, names(server, n_artists), max_retries=10)
        assert server.stats.faults("5xx") > 0 and server.stats.faults("429_burst") > 0
    assert canonical(run.records()) == canonical(fault_free.records())
    assert canonical(replay(run.raw)) == canonical(fault_free.records())


def test_malformed_json_is_retried() -> None:
    with serve(faults=FaultOptions(malformed=0.3)) as server:
        run = ingest_from(server, names(server, 6), max_retries=10)
        assert server.stats.faults("malformed") > 0
    assert all(run.top.values())


def test_persistently_malformed_json_is_a_clear_error() -> None:
    with (
        serve(faults=FaultOptions(malformed=1.0)) as server,
        pytest.raises(RetriesExhaustedError) as caught,
    ):
        ingest_from(server, names(server, 1), max_retries=2)
    message = str(caught.value)
    assert message.startswith("search: gave up after 3 attempts")
    assert "malformed JSON" in message and "JSONDecodeError" not in message


def test_retry_after_beyond_the_cap_fails_fast() -> None:
    faults = FaultOptions(burst_429=1.0, burst_retry_after=7200)
    with serve(faults=faults) as server:
        with pytest.raises(RateLimitedError, match="asked to wait 7200 s"):
            ingest_from(server, names(server, 3), retry_after_cap=120)
        assert server.stats.count(status=429) <= 3  # one per worker that was already on its way


def test_other_4xx_is_not_retried(extended: RunningCatalog) -> None:
    extended.reset()

    async def main() -> None:
        async with client_for(extended) as client:
            await client.top_tracks(["0" * 22])

    with pytest.raises(ApiRefused, match="top_tracks: the API answered 404: Resource not found"):
        asyncio.run(main())
    assert extended.stats.count("top_tracks") == 1


def test_bad_input_is_refused_with_a_clear_message(extended: RunningCatalog) -> None:
    async def call(method: str, *args: Any, **kw: Any) -> Any:
        async with client_for(extended) as client:
            return await getattr(client, method)(*args, **kw)

    with pytest.raises(ValueError, match="search query is empty"):
        asyncio.run(call("search_artists", "  "))
    with pytest.raises(ValueError, match="search limit must be 1 to 50"):
        asyncio.run(call("search_artists", "x", limit=0))
    with pytest.raises(ValueError, match="must be a list of ids, not one string"):
        asyncio.run(call("get_artists", "0" * 22))
    with pytest.raises(ValueError, match=r"'\.\./etc' is not a Spotify id"):
        asyncio.run(call("top_tracks", ["../etc"]))
    with pytest.raises(ValueError, match="api_url must be an http"):
        SpotifyClient(
            accounts_url="http://x", api_url="ftp://x", client_id="a", client_secret=SecretStr("b")
        )
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        client_for(extended, concurrency=0)


# -- secrets ----------------------------------------------------------------------------------


def test_no_secret_in_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    faults = FaultOptions(
        error_5xx=0.2, burst_429=0.05, burst_length=2, burst_retry_after=0.1, latency_ms=150
    )
    errors: list[str] = []
    with serve(token_ttl=1, faults=faults) as server, structlog.testing.capture_logs() as events:
        run = ingest_from(server, names(server, 4), max_retries=10, concurrency=2)
        wrong = client_for(server, client_secret=SecretStr("not-the-secret-at-all"))
        with pytest.raises(
            ApiRefused, match="token: the API answered 400: invalid_client"
        ) as caught:
            asyncio.run(ingest(wrong, names(server, 1), Run()))
        errors += [str(caught.value), repr(caught.value), repr(wrong), repr(client_for(server))]
        errors.append(json.dumps([r.to_record() for r in run.raw]))
        issued = list(server.gate.tokens._expiry)  # every token the server handed out
    assert events and any(e["event"] == "retrying" for e in events)
    text = "\n".join([*errors, caplog.text, *map(str, events), *capsys.readouterr()])
    assert len(issued) >= 2
    for secret in [SECRET, "not-the-secret-at-all", *issued]:
        assert secret not in text
    assert not re.search(r"Bearer [A-Za-z0-9_-]{20,}", text)
