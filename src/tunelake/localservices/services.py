"""The local S3 and DynamoDB servers of tests and `tunelake services up`.

`services_up` starts, detached, SeaweedFS (S3, bucket "tunelake") and dynalite (DynamoDB),
each with its data under `<home>/services/<name>/`, and writes the S3 credentials to
`<home>/secrets.env`, where the settings loader finds them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import dotenv
from pydantic import SecretStr

from tunelake.config import DEFAULT_SECRETS_FILE
from tunelake.localservices import dynalite, seaweedfs
from tunelake.localservices.process import ServerKind, ServiceError

__all__ = [
    "BUCKET",
    "ServiceError",
    "ServiceState",
    "services_down",
    "services_status",
    "services_up",
]

BUCKET = "tunelake"
SERVICES_DIR = "services"
ACCESS_KEY_SETTING = "TUNELAKE_S3_ACCESS_KEY_ID"
SECRET_KEY_SETTING = "TUNELAKE_S3_SECRET_ACCESS_KEY"

_KINDS: dict[str, ServerKind] = {"seaweedfs": seaweedfs.KIND, "dynalite": dynalite.KIND}


@dataclass(frozen=True)
class ServiceState:
    """One local server as the CLI shows it: no secret is ever part of it."""

    name: str
    endpoint: str | None
    pid: int | None
    detail: str


def services_up(
    home: Path, *, s3_port: int = 8333, dynamodb_port: int = 8000
) -> list[ServiceState]:
    """Start, detached and bound to 127.0.0.1, whichever service is not running yet; one that
    runs is left as it is. A fixed port taken by another process fails with a ServiceError
    naming it, before anything starts."""
    home = Path(home).resolve()
    if _KINDS["dynalite"].at(_data_dir(home, "dynalite")).running() is None:
        dynalite.KIND.take_port(dynamodb_port)  # SeaweedFS checks its own before it starts
    secrets_file = home / DEFAULT_SECRETS_FILE
    # The credentials survive restarts, so a secrets.env written earlier stays valid.
    access_key, secret = seaweedfs.stored_credentials(_data_dir(home, "seaweedfs")) or (
        seaweedfs.DEFAULT_ACCESS_KEY,
        SecretStr(secrets.token_urlsafe(32)),
    )
    s3 = _up(
        home,
        "seaweedfs",
        lambda data_dir: seaweedfs.start_seaweedfs(
            data_dir,
            s3_port=s3_port,
            access_key=access_key,
            secret_key=secret,
            bucket=BUCKET,
            detached=True,
        ),
    )
    _set_secrets(
        secrets_file,
        {ACCESS_KEY_SETTING: access_key, SECRET_KEY_SETTING: secret.get_secret_value()},
    )
    dynamodb = _up(
        home,
        "dynalite",
        lambda data_dir: dynalite.start_dynalite(data_dir, port=dynamodb_port, detached=True),
    )
    detail = f"{s3.detail}; bucket {BUCKET}; S3 credentials in {secrets_file}"
    return [replace(s3, detail=detail), dynamodb]


def services_down(home: Path) -> list[ServiceState]:
    """Stop what `services_up` started; a service that is not running is reported as such."""
    home = Path(home).resolve()
    states = []
    for name, kind in _KINDS.items():
        directory = kind.at(_data_dir(home, name))
        running = directory.running()
        directory.stop()
        detail = (
            "was not running"
            if running is None
            else f"stopped (was pid {running['pid']} at {running['endpoint_url']})"
        )
        states.append(ServiceState(name, None, None, detail))
    return states


def services_status(home: Path) -> list[ServiceState]:
    home = Path(home).resolve()
    return [_status(home, name, "running") for name in _KINDS]


# internals ---------------------------------------------------------------------------------


def _data_dir(home: Path, name: str) -> Path:
    return home / SERVICES_DIR / name


def _status(home: Path, name: str, running_detail: str) -> ServiceState:
    data_dir = _data_dir(home, name)
    state = _KINDS[name].at(data_dir).running()
    if state is None:
        return ServiceState(name, None, None, f"stopped; data in {data_dir}")
    return ServiceState(
        name, state["endpoint_url"], state["pid"], f"{running_detail}; data in {data_dir}"
    )


def _up(home: Path, name: str, start: Callable[[Path], object]) -> ServiceState:
    data_dir = _data_dir(home, name)
    if _KINDS[name].at(data_dir).running() is not None:
        return _status(home, name, "already running")
    start(data_dir)
    return _status(home, name, "started")


def _set_secrets(path: Path, values: dict[str, str]) -> None:
    """Set `values` in the dotenv file at `path`, owner-only, keeping every other key in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # before a secret goes in, also when the file was there already
    for key, value in values.items():
        dotenv.set_key(path, key, value)  # rewrites through a temporary file of the same mode
