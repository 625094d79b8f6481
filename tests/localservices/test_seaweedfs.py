"""The SeaweedFS launcher: a real `weed mini` on loopback, in-process and detached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from tunelake.localservices.seaweedfs import (
    LOG_FILE,
    S3_CONFIG_FILE,
    STATE_FILE,
    SeaweedFS,
    SeaweedFSError,
    attach_seaweedfs,
    seaweedfs_status,
    start_seaweedfs,
    stop_seaweedfs,
)

pytestmark = [
    pytest.mark.services,
    pytest.mark.timeout(120),
    pytest.mark.usefixtures("weed_installed"),
]

SECRET = "s3cret-for-this-test-only"


def client(server: SeaweedFS, secret: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=secret or server.secret_key.get_secret_value(),
        region_name="us-east-1",
    )


def listening_addresses(ports: list[int]) -> set[str]:
    """Local addresses of the listening TCP sockets on these ports (from /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) in ports:  # 0A: LISTEN
                found.add(address)
    return found


def test_serves_signed_s3_on_loopback_only_and_stops(tmp_path: Path) -> None:
    server = start_seaweedfs(tmp_path, access_key="tester", secret_key=SECRET, bucket="songs")
    with server:
        s3 = client(server)
        s3.put_object(Bucket="songs", Key="a/b.json", Body=b'{"name": "Sigur R\xc3\xb3s"}')
        assert s3.get_object(Bucket="songs", Key="a/b.json")["Body"].read().decode() == (
            '{"name": "Sigur Rós"}'
        )
        with pytest.raises(botocore.exceptions.ClientError, match="SignatureDoesNotMatch"):
            client(server, secret="wrong").list_objects_v2(Bucket="songs")

        state = json.loads((tmp_path / STATE_FILE).read_text())
        assert state["pid"] == server.pid and state["endpoint_url"] == server.endpoint_url
        assert listening_addresses(list(state["ports"].values())) == {"0100007F"}  # 127.0.0.1
        assert seaweedfs_status(tmp_path) == server.endpoint_url

        assert (tmp_path / S3_CONFIG_FILE).stat().st_mode & 0o777 == 0o600
        for text in ((tmp_path / STATE_FILE).read_text(), (tmp_path / LOG_FILE).read_text()):
            assert SECRET not in text
        assert SECRET not in repr(server)

        with pytest.raises(SeaweedFSError, match="already runs"):
            start_seaweedfs(tmp_path)
    assert seaweedfs_status(tmp_path) is None
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)


def test_a_detached_server_outlives_its_starter_and_keeps_its_data(tmp_path: Path) -> None:
    starter = (
        "import sys; from pathlib import Path; "
        "from tunelake.localservices.seaweedfs import start_seaweedfs; "
        "print(start_seaweedfs(Path(sys.argv[1]), detached=True).endpoint_url)"
    )
    started = subprocess.run(
        [sys.executable, "-c", starter, str(tmp_path)], capture_output=True, text=True, check=True
    )
    endpoint = started.stdout.strip()
    assert seaweedfs_status(tmp_path) == endpoint
    server = attach_seaweedfs(tmp_path)
    assert server is not None and server.endpoint_url == endpoint
    client(server).put_object(Bucket=server.bucket, Key="kept", Body=b"still here")
    assert stop_seaweedfs(tmp_path) is True
    assert seaweedfs_status(tmp_path) is None and stop_seaweedfs(tmp_path) is False

    with start_seaweedfs(tmp_path) as again:
        body = client(again).get_object(Bucket=again.bucket, Key="kept")["Body"].read()
        assert body == b"still here"


def test_bad_arguments_are_refused_before_starting(tmp_path: Path) -> None:
    with pytest.raises(SeaweedFSError, match="not a valid S3 bucket name"):
        start_seaweedfs(tmp_path, bucket="Not_A_Bucket")
    assert not (tmp_path / STATE_FILE).exists()
