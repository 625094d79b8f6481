"""ReccoBeats: audio features for Spotify track ids, where Spotify no longer gives them.

GET {base}/audio-features?ids=<up to 40 Spotify ids> answers `{"content": [...]}`; tracks it
does not know are simply absent. No credentials.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunelake.ids import chunks, spotify_ids
from tunelake.models import AudioFeatures
from tunelake.sources.http import HttpCore, gather
from tunelake.sources.parse import reccobeats_list

#: Most ids one call accepts.
RECCOBEATS_BATCH = 40


class ReccoBeats:
    def __init__(self, core: HttpCore, base_url: str):
        self._core = core
        self._url = base_url.rstrip("/") + "/audio-features"

    def __repr__(self) -> str:
        return f"ReccoBeats({self._url!r})"

    async def audio_features(self, track_ids: Sequence[str]) -> list[AudioFeatures]:
        ids = spotify_ids(track_ids, "track_ids")
        pages = await gather(*(self._batch(b) for b in chunks(ids, RECCOBEATS_BATCH)))
        return [features for page in pages for features in page]

    async def _batch(self, ids: list[str]) -> list[AudioFeatures]:
        raw = await self._core.get_json(
            "reccobeats_audio_features", self._url, params={"ids": ",".join(ids)}
        )
        return reccobeats_list(raw.body)
