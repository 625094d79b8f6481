"""`tunelake services up/down/status`: both servers, detached, on ports passed explicitly."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import boto3
import pytest
from dotenv import dotenv_values

from tests.conftest import port_open
from tunelake.config import load_settings
from tunelake.localservices.process import HOST, PortHold
from tunelake.localservices.services import (
    BUCKET,
    ServiceError,
    ServiceState,
    services_down,
    services_status,
    services_up,
)

pytestmark = [
    pytest.mark.services,
    pytest.mark.timeout(180),
    pytest.mark.usefixtures("weed_installed", "dynalite_installed"),
]

OTHER_SECRET = "TUNELAKE_SPOTIFY_CLIENT_SECRET"


@pytest.fixture(autouse=True)
def _settings_from_the_secrets_file(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TUNELAKE_SECRETS_FILE",
        "TUNELAKE_S3_ACCESS_KEY_ID",
        "TUNELAKE_S3_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


def free_ports() -> tuple[int, int]:
    """An S3 port whose gRPC port (+10000) is free too, and a dynalite port."""
    with PortHold() as hold:
        s3 = next(
            p
            for p in random.sample(range(20_000, 40_000), 200)
            if hold.take(p) and hold.take(p + 10_000)
        )
        dynamodb = hold.take(0)
    assert dynamodb is not None
    return s3, dynamodb


def by_name(states: list[ServiceState]) -> dict[str, ServiceState]:
    assert [state.name for state in states] == ["seaweedfs", "dynalite"]
    return {state.name: state for state in states}


def test_up_status_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    secrets_file = home / "secrets.env"
    secrets_file.write_text(f"{OTHER_SECRET}=keep-me\nTUNELAKE_S3_ACCESS_KEY_ID=stale\n")
    secrets_file.chmod(0o644)
    s3_port, dynamodb_port = free_ports()

    up = by_name(services_up(home, s3_port=s3_port, dynamodb_port=dynamodb_port))
    try:
        assert up["seaweedfs"].endpoint == f"http://{HOST}:{s3_port}"
        assert up["dynalite"].endpoint == f"http://{HOST}:{dynamodb_port}"
        status = by_name(services_status(home))
        assert [(s.endpoint, s.pid) for s in status.values()] == [
            (s.endpoint, s.pid) for s in up.values()
        ]
        assert all(s.pid and s.detail.startswith("running") for s in status.values())

        # The credentials reach the settings through secrets.env, owner-only, other keys kept.
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        written = dotenv_values(secrets_file)
        assert written[OTHER_SECRET] == "keep-me"
        assert written["TUNELAKE_S3_ACCESS_KEY_ID"] != "stale"
        settings = load_settings(home=home)
        assert settings.s3_access_key_id is not None and settings.s3_secret_access_key is not None
        secret = settings.s3_secret_access_key.get_secret_value()
        s3 = boto3.client(
            "s3",
            endpoint_url=up["seaweedfs"].endpoint,
            aws_access_key_id=settings.s3_access_key_id.get_secret_value(),
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )
        s3.put_object(Bucket=BUCKET, Key="hello", Body=b"world")
        assert s3.get_object(Bucket=BUCKET, Key="hello")["Body"].read() == b"world"
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=up["dynalite"].endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        assert dynamodb.list_tables()["TableNames"] == []
        assert secret not in repr(list(up.values()) + list(status.values()))

        again = by_name(services_up(home, s3_port=s3_port, dynamodb_port=dynamodb_port))
        assert {name: state.pid for name, state in again.items()} == {
            name: state.pid for name, state in up.items()
        }
        assert all("already running" in state.detail for state in again.values())
        assert dotenv_values(secrets_file) == written
    finally:
        down = by_name(services_down(home))

    assert all(state.detail.startswith("stopped (was pid") for state in down.values())
    assert all(state.endpoint is None and state.pid is None for state in services_status(home))
    assert not port_open(HOST, s3_port) and not port_open(HOST, dynamodb_port)
    assert all(state.detail == "was not running" for state in services_down(home))


@pytest.mark.parametrize("taken", ["s3", "dynamodb"])
def test_a_taken_port_is_named_and_nothing_starts(taken: str, tmp_path: Path) -> None:
    ports = dict(zip(("s3_port", "dynamodb_port"), free_ports(), strict=True))
    port = ports[f"{taken}_port"]
    with socket.socket() as squatter:
        squatter.bind((HOST, port))
        squatter.listen()
        with pytest.raises(ServiceError, match=f"port {port} "):
            services_up(tmp_path, **ports)
    assert all(state.pid is None for state in services_status(tmp_path))
    assert not (tmp_path / "secrets.env").exists()
