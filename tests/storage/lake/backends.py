"""Lake backends for the tests: a local folder, and S3 on the session's SeaweedFS (the
`seaweedfs` fixture of tests/conftest.py).

`lake` is imported by tests/storage/lake/conftest.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from tunelake.localservices.seaweedfs import SeaweedFS
from tunelake.storage.lake import IcebergLake, LakeOptions, S3Options, open_lake

__all__ = ["BACKENDS", "lake", "new_lake", "s3_options"]

BACKENDS = [
    pytest.param("local", id="local"),
    pytest.param("s3", id="s3", marks=pytest.mark.services),
]


def s3_options(server: SeaweedFS, catalog_url: str | None = None) -> LakeOptions:
    return LakeOptions(
        catalog_url=catalog_url,
        s3=S3Options(
            endpoint_url=server.endpoint_url,
            access_key_id=SecretStr(server.access_key),
            secret_access_key=server.secret_key,
        ),
    )


def new_lake(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> IcebergLake:
    """A fresh, empty lake: a folder under tmp_path (its catalog in it), or a new prefix in
    the test bucket with a SQLite catalog under tmp_path."""
    if kind == "local":
        lake = open_lake(str(tmp_path / "lake"))
    else:
        server: SeaweedFS = request.getfixturevalue("seaweedfs")
        url = f"s3://{server.bucket}/lake-{uuid.uuid4().hex[:12]}"
        lake = open_lake(url, s3_options(server, f"sqlite:///{tmp_path / 'catalog.db'}"))
    assert isinstance(lake, IcebergLake)
    return lake


@pytest.fixture(params=BACKENDS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> IcebergLake:
    return new_lake(request.param, request, tmp_path)
