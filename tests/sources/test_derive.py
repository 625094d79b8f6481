"""Deriving a dt's rows from its raw zone, and what a damaged raw zone says."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from tunelake.ids import SPOTIFY_ID
from tunelake.pipeline.progress import read_progress
from tunelake.sources.derive import derive
from tunelake.sources.errors import RawZoneError
from tunelake.sources.port import SourceInfo
from tunelake.storage.lake import open_lake

DT = date(2026, 11, 26)
API = SourceInfo(kind="api", name="catalog", id_pattern=SPOTIFY_ID)


def _damage(lake_root: Path, endpoint: str, content: bytes) -> None:
    [path] = (lake_root / "raw" / endpoint / f"dt={DT}").iterdir()
    path.write_bytes(content)


@pytest.mark.parametrize(
    "content",
    [b"\x1f\x8b\x08\x00garbage\x1b[2J", b"not gzip at all\x07", gzip.compress(b"{not json\n")],
)
def test_a_damaged_raw_file_names_the_endpoint_the_dt_and_the_fix(tmp_path, content):
    lake = open_lake(str(tmp_path / "lake"))
    lake.write_raw("top_tracks", DT, [{"endpoint": "top_tracks"}])
    _damage(tmp_path / "lake", "top_tracks", content)
    with pytest.raises(RawZoneError) as info:
        derive(lake, DT, [], API)
    message = str(info.value)
    assert f"raw/top_tracks/dt={DT}" in message and "run the dt again" in message
    assert all(ch.isprintable() for ch in message), repr(message)


def test_a_record_that_is_not_a_response_is_named_too(tmp_path):
    lake = open_lake(str(tmp_path / "lake"))
    lake.write_raw("artists", DT, [{"endpoint": "artists", "body": {}}])
    with pytest.raises(RawZoneError, match=rf"raw/artists/dt={DT} .* not a response"):
        derive(lake, DT, [], API)


def test_damaged_progress_is_named(tmp_path):
    lake = open_lake(str(tmp_path / "lake"))
    lake.write_raw("_progress", DT, [{"kind": "extracted", "artist_ids": []}])
    _damage(tmp_path / "lake", "_progress", b"\x00\x01")
    with pytest.raises(RawZoneError, match=rf"raw/_progress/dt={DT}"):
        read_progress(lake, DT)
