"""A deterministic simulator of listening events over the built-in catalog's tracks.

Given a seed, the catalog (same seed and size settings as the catalog server), a number of
users, a simulated start time and rate, the same events come out every time. Users have tastes
(two favourite genres, a few favourite artists drawn from them by popularity), a home country
whose clock drives a daily rhythm (few plays at night, a peak in the evening), sessions, and
habits: favourites most of the time, otherwise popularity-weighted picks from the whole
catalog; skips (more often for non-favourites), repeats of the last track.

The faults real producers have are injected at given fractions: the same event sent twice
(a later message, same bytes), late events (their `ts` 1-6 hours back, so out of order), and
malformed ones (not JSON, a field missing, a value out of range).

Everything is drawn column-wise with NumPy per chunk; only the JSON encoding is per event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import orjson

from tunelake.events.schema import CONTEXTS, DEVICES
from tunelake.sources.catalog import vocab
from tunelake.sources.catalog.generator import generate_catalog

CHUNK = 2_000
FAVOURITE_ARTISTS = 8
FAVOURITE_SHARE = 0.6
REPEAT_SHARE = 0.08
SESSION_END = 0.04
"""Chance that a user's session ends after a play."""
SKIP = {True: 0.12, False: 0.30}  # favourite or not
CONTEXT_WEIGHTS = (0.30, 0.30, 0.10, 0.25, 0.05)
DEVICE_WEIGHTS = (0.55, 0.2, 0.1, 0.07, 0.04, 0.04)
# Plays per hour of the local day, relative: night trough, morning commute, evening peak.
RHYTHM = np.array(
    [0.35, 0.2, 0.12, 0.08, 0.08, 0.12, 0.3, 0.6, 0.85, 0.8, 0.7, 0.7,
     0.8, 0.75, 0.7, 0.75, 0.85, 1.0, 1.15, 1.25, 1.3, 1.2, 0.95, 0.6]
)  # fmt: skip
# Hours from UTC of each catalog region (Americas, Europe, Asia-Pacific, English-speaking).
REGION_OFFSETS = (-5, 1, 8, -5)
LATE_HOURS = (1.0, 6.0)


@dataclass(frozen=True)
class Faults:
    duplicate: float = 0.01
    late: float = 0.01
    malformed: float = 0.002


@dataclass
class Produced:
    """What a simulator put out: every line sent, and how many of them are faults."""

    events: int = 0
    duplicates: int = 0
    malformed: int = 0
    late: int = 0

    @property
    def valid_unique(self) -> int:
        """Events that should end up in `plays`: sent - duplicates - malformed."""
        return self.events - self.duplicates - self.malformed


@dataclass
class Simulator:
    seed: int
    start: datetime
    rate: float
    """Simulated events per second of event time."""
    users: int = 1000
    catalog_seed: int = 42
    catalog_artists: int = 1000
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("the simulation start needs a time zone")
        if self.rate <= 0 or self.users < 1:
            raise ValueError("rate and users must be positive")
        catalog = generate_catalog(self.catalog_seed, self.catalog_artists)
        self._rng = np.random.default_rng(np.random.SeedSequence([self.seed, 17]))
        rng = self._rng
        tracks, albums, artists = catalog.tracks, catalog.albums, catalog.artists
        self._track_ids = tracks.ids.astype(str)
        self._artist_ids = artists.ids.astype(str)
        self._track_artist = albums.artist[tracks.album]
        self._duration = tracks.duration_ms.astype(np.int64)
        weights = (tracks.popularity.astype(np.float64) + 1.0) ** 2
        self._track_cdf = np.cumsum(weights) / weights.sum()
        start = albums.track_start[artists.album_start[:-1]]
        end = albums.track_start[artists.album_start[1:]]
        self._own_start, self._own_count = start, end - start
        # users: home country (its clock), device, activity, taste
        n = self.users
        self.user_ids = np.array([f"user-{u:06d}" for u in range(n)])
        region = rng.integers(0, len(vocab.REGIONS), n)
        self._country = np.array(
            [vocab.REGIONS[r][rng.integers(len(vocab.REGIONS[r]))] for r in region]
        )
        self._offset = np.array(REGION_OFFSETS)[region]
        self._device = rng.choice(len(DEVICES), n, p=DEVICE_WEIGHTS)
        self._activity = rng.lognormal(0.0, 0.8, n)
        self._favourites = self._tastes(rng, artists.genres[:, 0], artists.popularity)
        self._last_track = np.full(n, -1, dtype=np.int64)
        self._session = np.zeros(n, dtype=np.int64)
        self._sent = 0
        self._held: list[bytes] = []  # duplicates waiting to be sent again

    def _tastes(
        self, rng: np.random.Generator, genre: np.ndarray, popularity: np.ndarray
    ) -> np.ndarray:
        """FAVOURITE_ARTISTS artists per user from two favourite genres, popularity-weighted
        (artists without tracks excluded)."""
        playable = self._own_count > 0
        n_genres = len(vocab.GENRES)
        liked = rng.integers(0, n_genres, (self.users, 2))
        favourites = np.empty((self.users, FAVOURITE_ARTISTS), dtype=np.int64)
        weight = (popularity.astype(np.float64) + 1.0) * playable
        for u in range(self.users):
            pool = weight * np.isin(genre, liked[u])
            if pool.sum() == 0:
                pool = weight
            favourites[u] = rng.choice(len(pool), FAVOURITE_ARTISTS, p=pool / pool.sum())
        return favourites

    # ------------------------------------------------------------------------------------
    def lines(
        self, count: int | None = None, produced: Produced | None = None
    ) -> Iterator[list[bytes]]:
        """Chunks of encoded events (one JSON object each), `count` lines in all (None: no end)."""
        produced = produced if produced is not None else Produced()
        while count is None or produced.events < count:
            want = CHUNK if count is None else min(CHUNK, count - produced.events)
            chunk = self._chunk(want, produced)
            produced.events += len(chunk)
            yield chunk

    def _chunk(self, size: int, produced: Produced) -> list[bytes]:
        """size lines: the duplicates held back first, then fresh events."""
        rng = self._rng
        out, self._held = self._held[:size], self._held[size:]
        produced.duplicates += len(out)
        n = size - len(out)
        first = self._sent
        self._sent += n
        t0 = self.start + timedelta(seconds=first / self.rate)
        hour = (t0.hour + self._offset) % 24
        p = self._activity * RHYTHM[hour]
        users = rng.choice(self.users, n, p=p / p.sum())
        favourite = rng.random(n) < FAVOURITE_SHARE
        artist = self._favourites[users, rng.integers(0, FAVOURITE_ARTISTS, n)]
        own = self._own_start[artist] + (rng.random(n) * self._own_count[artist]).astype(np.int64)
        anywhere = np.minimum(
            np.searchsorted(self._track_cdf, rng.random(n)), len(self._track_cdf) - 1
        )
        track = np.where(favourite, own, anywhere)
        repeat = (rng.random(n) < REPEAT_SHARE) & (self._last_track[users] >= 0)
        track = np.where(repeat, self._last_track[users], track)
        self._last_track[users] = track
        ended = rng.random(n) < SESSION_END
        np.add.at(self._session, users[ended], 1)
        session = self._session[users]
        skipped = rng.random(n) < np.where(favourite | repeat, SKIP[True], SKIP[False])
        duration = self._duration[track]
        ms_played = np.where(
            skipped,
            np.minimum(rng.integers(2_000, 30_000, n), duration),
            (duration * rng.uniform(0.85, 1.0, n)).astype(np.int64),
        )
        context = rng.choice(len(CONTEXTS), n, p=CONTEXT_WEIGHTS)
        offsets_us = ((first + np.arange(n)) / self.rate * 1e6).astype(np.int64)
        late = rng.random(n) < self.faults.late
        back_us = (rng.uniform(*LATE_HOURS, n) * 3_600e6).astype(np.int64)
        start_us = int(self.start.timestamp() * 1e6)
        ts_us = start_us + offsets_us - np.where(late, back_us, 0)
        stamps = np.datetime_as_string(ts_us.astype("datetime64[us]"), unit="us")
        ids = _uuid7s(ts_us // 1000, rng.integers(0, 2**62, (n, 2), dtype=np.int64))
        malformed = rng.random(n) < self.faults.malformed
        duplicate = (rng.random(n) < self.faults.duplicate) & ~malformed
        kinds = rng.integers(0, len(_BREAKERS), n)
        for i in range(n):
            u = users[i]
            event = {
                "event_id": ids[i],
                "user_id": self.user_ids[u],
                "session_id": f"{self.user_ids[u]}-{session[i]}",
                "track_id": self._track_ids[track[i]],
                "artist_id": self._artist_ids[self._track_artist[track[i]]],
                "ts": stamps[i] + "Z",
                "ms_played": int(ms_played[i]),
                "skipped": bool(skipped[i]),
                "context": CONTEXTS[context[i]],
                "device": DEVICES[self._device[u]],
                "country": self._country[u],
            }
            if malformed[i]:
                out.append(_BREAKERS[kinds[i]](event))
                continue
            line = orjson.dumps(event)
            out.append(line)
            if duplicate[i]:
                self._held.append(line)  # sent again in the next chunk (if there is one)
        produced.late += int(late.sum())
        produced.malformed += int(malformed.sum())
        return out


def _uuid7s(ms: np.ndarray, random: np.ndarray) -> list[str]:
    """UUIDv7 texts: 48 bits of Unix milliseconds, version 7, 74 random bits, variant 10."""
    hi = (
        (ms.astype(np.uint64) << np.uint64(16))
        | np.uint64(0x7000)
        | (random[:, 0].astype(np.uint64) & np.uint64(0x0FFF))
    )
    lo = (np.uint64(0x8000_0000_0000_0000)) | (
        random[:, 1].astype(np.uint64) & np.uint64(0x3FFF_FFFF_FFFF_FFFF)
    )
    out = []
    for h, low in zip(hi.tolist(), lo.tolist(), strict=True):
        x = f"{h:016x}{low:016x}"
        out.append(f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}")
    return out


def _not_json(event: dict[str, object]) -> bytes:
    return orjson.dumps(event)[:40]


def _missing_track(event: dict[str, object]) -> bytes:
    return orjson.dumps({k: v for k, v in event.items() if k != "track_id"})


def _negative_ms(event: dict[str, object]) -> bytes:
    return orjson.dumps(event | {"ms_played": -1})


def _bad_country(event: dict[str, object]) -> bytes:
    return orjson.dumps(event | {"country": "Neverland"})


_BREAKERS = (_not_json, _missing_track, _negative_ms, _bad_country)
