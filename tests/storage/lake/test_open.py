"""Opening a lake: URLs, and clear errors (with no secret in them) when S3 is not there."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr

from tunelake.localservices.seaweedfs import SeaweedFS
from tunelake.storage.lake import LakeError, LakeOptions, LakeUnavailable, S3Options, open_lake

from .backends import s3_options

SECRET = "do-not-print-me-42"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_local_lake_is_created_and_named_by_its_absolute_path(tmp_path: Path) -> None:
    lake = open_lake(f"file://{tmp_path}/a/../lake")
    assert lake.url == str(tmp_path / "lake") and (tmp_path / "lake").is_dir()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://bucket/lake", "unsupported lake URL"),
        ("s3://", "names no bucket"),
        ("s3://bucket/year=2026/lake", "Hive partition column"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(LakeError, match=message):
        open_lake(url)


def test_an_unreachable_endpoint_says_what_to_fix() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    options = LakeOptions(
        s3=S3Options(
            endpoint_url=endpoint,
            access_key_id=SecretStr("someone"),
            secret_access_key=SecretStr(SECRET),
        )
    )
    with pytest.raises(LakeUnavailable) as caught:
        open_lake("s3://lake-bucket/prefix", options)
    message = str(caught.value)
    assert "s3://lake-bucket/prefix" in message and endpoint in message
    assert "TUNELAKE_S3_ENDPOINT_URL" in message and SECRET not in message


@pytest.mark.services
def test_a_missing_bucket_says_what_to_fix(seaweedfs: SeaweedFS) -> None:
    with pytest.raises(LakeUnavailable, match="bucket 'no-such-bucket' does not exist"):
        open_lake("s3://no-such-bucket/lake", s3_options(seaweedfs))


@pytest.mark.services
def test_refused_credentials_say_what_to_fix(seaweedfs: SeaweedFS) -> None:
    given = s3_options(seaweedfs)
    options = replace(given, s3=replace(given.s3, secret_access_key=SecretStr(SECRET)))
    with pytest.raises(LakeUnavailable, match="TUNELAKE_S3_SECRET_ACCESS_KEY") as caught:
        open_lake(f"s3://{seaweedfs.bucket}/lake", options)
    assert SECRET not in str(caught.value)


@pytest.mark.services
def test_no_secret_in_reprs(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    catalog = f"sqlite:///{tmp_path}/catalog.db"
    lake = open_lake(f"s3://{seaweedfs.bucket}/lake", s3_options(seaweedfs, catalog))
    secret = seaweedfs.secret_key.get_secret_value()
    assert lake.url == f"s3://{seaweedfs.bucket}/lake"
    for text in (repr(lake), repr(lake.store), repr(seaweedfs), str(lake.url)):
        assert secret not in text


def test_a_catalog_password_never_shows(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://someone:{SECRET}@127.0.0.1:{closed_port()}/db"
    with pytest.raises(LakeUnavailable, match="TUNELAKE_LAKE_CATALOG_URL") as caught:
        open_lake(str(tmp_path / "lake"), LakeOptions(catalog_url=url))
    assert SECRET not in str(caught.value) and "someone:***@" in str(caught.value)
