"""dynalite, the local DynamoDB-compatible server: install, start, find, stop."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from tests.conftest import port_open
from tunelake.localservices.dynalite import (
    STATE_FILE,
    DynaliteError,
    dynalite_status,
    ensure_dynalite_installed,
    start_dynalite,
    stop_dynalite,
)


def dynamodb(endpoint_url: str) -> Any:
    # Any key will do: dynalite checks that requests are signed, not by whom.
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def table_names(endpoint_url: str) -> list[str]:
    names: list[str] = dynamodb(endpoint_url).list_tables()["TableNames"]
    return names


def create_table(endpoint_url: str, name: str) -> None:
    dynamodb(endpoint_url).create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )


def port_of(endpoint_url: str) -> int:
    port = urlsplit(endpoint_url).port
    assert port is not None
    return port


@pytest.mark.services
def test_serves_the_dynamodb_api_until_stopped(dynalite_installed: None, tmp_path: Path) -> None:
    with start_dynalite(tmp_path, in_memory=True) as server:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        assert dynalite_status(tmp_path) == server.endpoint_url
        create_table(server.endpoint_url, "songs")
        assert table_names(server.endpoint_url) == ["songs"]
    assert dynalite_status(tmp_path) is None
    assert not port_open("127.0.0.1", port_of(server.endpoint_url))


@pytest.mark.services
def test_tables_on_disk_survive_a_restart(dynalite_installed: None, tmp_path: Path) -> None:
    with start_dynalite(tmp_path) as server:
        create_table(server.endpoint_url, "artists")
    assert (tmp_path / "db").is_dir()
    with start_dynalite(tmp_path) as server:
        assert table_names(server.endpoint_url) == ["artists"]


@pytest.mark.services
def test_detached_server_is_found_and_stopped_from_its_data_dir(
    dynalite_installed: None, tmp_path: Path
) -> None:
    server = start_dynalite(tmp_path, detached=True, in_memory=True)
    try:
        assert dynalite_status(tmp_path) == server.endpoint_url
        assert stop_dynalite(tmp_path) is True
        assert dynalite_status(tmp_path) is None
        assert not port_open("127.0.0.1", port_of(server.endpoint_url))
        assert stop_dynalite(tmp_path) is False
    finally:
        server.stop()  # a no-op once stopped; stops it if an assertion failed first


@pytest.mark.services
def test_a_second_server_on_one_data_dir_is_refused(
    dynalite_installed: None, tmp_path: Path
) -> None:
    with start_dynalite(tmp_path, in_memory=True) as server:
        with pytest.raises(DynaliteError, match="already runs") as caught:
            start_dynalite(tmp_path, in_memory=True)
        assert server.endpoint_url in str(caught.value)


@pytest.mark.services
def test_a_taken_port_is_named(dynalite_installed: None, tmp_path: Path) -> None:
    with start_dynalite(tmp_path / "other", in_memory=True) as other:
        port = port_of(other.endpoint_url)
        with pytest.raises(DynaliteError, match=f"port {port} on 127.0.0.1 is taken"):
            start_dynalite(tmp_path / "mine", port=port, in_memory=True)
    assert dynalite_status(tmp_path / "mine") is None


def test_a_recycled_pid_does_not_pass_for_dynalite(tmp_path: Path) -> None:
    # The state names a live process (this one) that is not the recorded dynalite.
    state = {"pid": os.getpid(), "endpoint_url": "http://127.0.0.1:4567", "command": ["node"]}
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    assert dynalite_status(tmp_path) is None
    assert stop_dynalite(tmp_path) is False
    assert not (tmp_path / STATE_FILE).exists()


def test_missing_npm_is_reported_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no npm, no node
    with pytest.raises(DynaliteError, match=r"npm is not on PATH: install Node\.js 20"):
        ensure_dynalite_installed(tmp_path / "cache")
