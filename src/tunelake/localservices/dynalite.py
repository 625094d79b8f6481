"""A DynamoDB-compatible server on loopback: dynalite (Node.js, from the npm registry), for
tests, the benchmark and `tunelake services up`.

dynalite is installed once per version under a cache directory (`npm install`) and run with
node from a data directory that holds its LevelDB files (`db/`, unless in memory), its log
and its state file (see `process`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tunelake.localservices.process import HOST, Server, ServerKind, ServiceError, tail

DYNALITE_VERSION = "4.0.0"
"""dynalite 4 runs on Node 20+: its LevelDB binding (classic-level 3) ships prebuilt binaries,
so nothing is compiled at install."""
NODE_MAJOR = 20
STATE_FILE = "dynalite.json"
LOG_FILE = "dynalite.log"


class DynaliteError(ServiceError):
    """dynalite could not be installed, started, found or stopped; the message says why."""


KIND = ServerKind("dynalite", STATE_FILE, LOG_FILE, DynaliteError, stop_timeout=10.0)


@dataclass(frozen=True, kw_only=True)
class Dynalite(Server):
    """A running dynalite (see `Server`)."""

    kind = KIND

    startup_seconds: float
    """From launching node to the first HTTP answer."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tunelake"


def ensure_dynalite_installed(cache_dir: Path | None = None) -> Path:
    """Install dynalite with npm into `<cache_dir>/dynalite-<version>` unless it is there
    already; returns its cli.js. Installs into a temporary sibling and renames it into place,
    so concurrent callers never see half an install."""
    cache_dir = Path(cache_dir or default_cache_dir())
    target = cache_dir / f"dynalite-{DYNALITE_VERSION}"
    cli = _cli(target)
    if cli.is_file():
        return cli
    npm = shutil.which("npm")
    if npm is None:
        raise DynaliteError(f"npm is not on PATH: install Node.js {NODE_MAJOR}+ with npm")
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dynalite-", dir=cache_dir))
    try:
        command = [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund"]
        result = subprocess.run(
            [*command, "--omit=dev", f"dynalite@{DYNALITE_VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise DynaliteError(
                f"npm install dynalite@{DYNALITE_VERSION} failed (exit {result.returncode}); "
                f"is the npm registry reachable? npm says:\n{tail(result.stderr)}"
            )
        try:
            staging.rename(target)
        except OSError:
            if not cli.is_file():  # not a concurrent install that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cli


def start_dynalite(
    data_dir: Path,
    *,
    port: int = 0,
    detached: bool = False,
    in_memory: bool = False,
    cache_dir: Path | None = None,
    timeout: float = 30.0,
) -> Dynalite:
    """Start dynalite on 127.0.0.1 (port=0 picks a free port) and wait until it answers.
    Its data lives in `data_dir/db` (LevelDB) unless in_memory. Tables become ACTIVE at once
    (dynalite's default 500 ms CREATING state only slows tests down).

    detached=True starts it in its own session so it outlives this process; find it again
    with `dynalite_status(data_dir)`, stop it with `stop_dynalite(data_dir)`."""
    directory = KIND.at(data_dir)
    directory.refuse_if_running()
    node = _node()
    cli = ensure_dynalite_installed(cache_dir)
    # dynalite reads --port 0 as "the default, 4567", so the free port is chosen here.
    port = KIND.take_port(port)
    command = [node, str(cli), "--host", HOST, "--port", str(port)]
    command += ["--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"]
    if not in_memory:
        command += ["--path", str(directory.path / "db")]
    endpoint = f"http://{HOST}:{port}"
    started = time.perf_counter()
    process = directory.start(
        command,
        endpoint_url=endpoint,
        detached=detached,
        ready=lambda: httpx.get(endpoint, timeout=1.0),  # any HTTP answer means it serves
        retry_on=(httpx.TransportError,),
        timeout=timeout,
    )
    server = Dynalite(
        data_dir=directory.path,
        endpoint_url=endpoint,
        pid=process.pid,
        startup_seconds=time.perf_counter() - started,
        _process=process,
    )
    if not detached:
        server.stop_at_exit()
    return server


def dynalite_status(data_dir: Path) -> str | None:
    """The endpoint URL of the dynalite running from data_dir, or None."""
    state = KIND.at(data_dir).running()
    return None if state is None else str(state["endpoint_url"])


def stop_dynalite(data_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the dynalite running from data_dir; False if none was running."""
    return KIND.at(data_dir).stop(timeout)


# internals ---------------------------------------------------------------------------------


def _cli(install_dir: Path) -> Path:
    return install_dir / "node_modules" / "dynalite" / "cli.js"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise DynaliteError(f"node is not on PATH: install Node.js {NODE_MAJOR}+")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < NODE_MAJOR:
        raise DynaliteError(
            f"dynalite {DYNALITE_VERSION} needs Node.js {NODE_MAJOR}+, found {version}"
        )
    return node
