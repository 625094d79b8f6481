"""`tunelake orchestrate`: the Dagster webserver and daemon on loopback, in the foreground.

The Dagster instance (runs, schedules, sensors, event log) lives in `<home>/dagster/`
(DAGSTER_HOME): SQLite by default, PostgreSQL when the `dagster_postgres_url` setting is set
(a profile key, as the services profile does, or `TUNELAKE_DAGSTER_POSTGRES_URL`). The URL
goes to the servers in their environment: dagster.yaml names the variable, so no password
is written to disk. Both servers get tunelake's data directory and profile
through the environment, which is how `TunelakeResource` and `Automation` read them.

The definitions are served by one code server (`dagster api grpc`) that the webserver and the
daemon both reach through `<home>/dagster/workspace.yaml`. Left to load the module
themselves, each would start a code server of its own, and the daemon replaces its own every
60 s (its workspace refresh), the old one shutting down once its heartbeats stop: a
"No heartbeat received … shutting down" in the log each minute, and one more load of the
definitions each time. A shared server outlives those refreshes; restart `tunelake
orchestrate` to load changed code.

Stopping (Ctrl-C or SIGTERM) terminates both servers and every process they started (the
webserver's code server, the daemon's threads' subprocesses), then waits for them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import httpx
import psutil

from tunelake.config import CONFIG_FILE_ENV, Settings, config_file
from tunelake.errors import UserError
from tunelake.orchestration.resources import automation

HOST = "127.0.0.1"
DEFINITIONS = "tunelake.orchestration.definitions"
POSTGRES_ENV = "TUNELAKE_DAGSTER_POSTGRES_URL"
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0


class OrchestrateError(UserError):
    """The webserver or the daemon would not start or stopped on its own."""


def instance_yaml(dagster_home: Path, postgres: bool) -> str:
    """dagster.yaml: PostgreSQL storage (its URL read from POSTGRES_ENV), else SQLite."""
    if postgres:
        storage = f"storage:\n  postgres:\n    postgres_url:\n      env: {POSTGRES_ENV}\n"
    else:
        storage = f"storage:\n  sqlite:\n    base_dir: {dagster_home / 'storage'}\n"
    # no telemetry, and no newcomer dialog over the pages (nux: new-user experience)
    return storage + "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def workspace_yaml(code_port: int) -> str:
    """workspace.yaml: the one code location, served by the code server on code_port."""
    return (
        "load_from:\n  - grpc_server:\n"
        f"      host: {HOST}\n      port: {code_port}\n      location_name: {DEFINITIONS}\n"
    )


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the servers and everything they started; kill what outlives the timeout."""
    procs: list[psutil.Process] = []
    for child in children:
        try:
            parent = psutil.Process(child.pid)
            procs += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=STOP_TIMEOUT_S)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=STOP_TIMEOUT_S)
    for child in children:
        child.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/server_info", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _ready(
    up: Callable[[], bool], servers: list[subprocess.Popen[bytes]], stopping: list[int], what: str
) -> bool:
    """Wait until up() (True) or a stop is asked for (False)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and not stopping:
        if any(s.poll() is not None for s in servers):
            raise OrchestrateError(
                "a Dagster server exited while starting: see <home>/dagster/*.log"
            )
        if up():
            return True
        time.sleep(0.5)
    if stopping:
        return False
    raise OrchestrateError(f"{what} did not answer within {READY_TIMEOUT_S:.0f} s")


def orchestrate(settings: Settings, port: int, on_ready: Callable[[str], None]) -> int:
    """Run the webserver (on 127.0.0.1:port; 0 picks a free one) and the daemon until
    interrupted or until one of them stops; returns the exit code."""
    home = settings.home.resolve()
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    postgres = settings.dagster_postgres_url
    (dagster_home / "dagster.yaml").write_text(
        instance_yaml(dagster_home, postgres is not None), encoding="utf-8"
    )
    port = port or _free_port()
    url = f"http://{HOST}:{port}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "TUNELAKE_HOME": str(home),
        "TUNELAKE_PROFILE": settings.profile,
        "TUNELAKE_WEBSERVER_URL": url,
    }
    if postgres is not None:
        env[POSTGRES_ENV] = postgres.get_secret_value()
    profiles = config_file()
    if profiles is not None:
        # the servers run in <home>: the tunelake.toml found here would not be found there
        env[CONFIG_FILE_ENV] = str(profiles)
    code_port = _free_port()
    workspace = dagster_home / "workspace.yaml"
    workspace.write_text(workspace_yaml(code_port), encoding="utf-8")
    commands = {
        "code-server": [
            *(sys.executable, "-m", "dagster", "api", "grpc", "-m", DEFINITIONS),
            *("-h", HOST, "-p", str(code_port), "--location-name", DEFINITIONS),
        ],
        "webserver": [
            *(sys.executable, "-m", "dagster_webserver", "-h", HOST, "-p", str(port)),
            *("-w", str(workspace)),
        ],
        "daemon": [sys.executable, "-m", "dagster._daemon", "run", "-w", str(workspace)],
    }
    automation()  # a bad schedule or webhook setting fails here, not in a child's log
    servers: list[subprocess.Popen[bytes]] = []
    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for name, command in commands.items():
            log = (dagster_home / f"{name}.log").open("ab")
            servers.append(
                subprocess.Popen(
                    command,
                    env=env,
                    cwd=home,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # its own process group: Ctrl-C reaches this process, which stops them
                    start_new_session=True,
                )
            )
            log.close()
            if name == "code-server" and not _ready(
                lambda: _listening(code_port), servers, stopping, "the code server"
            ):
                return 0
        if _ready(lambda: _answers(url), servers, stopping, f"the webserver at {url}"):
            on_ready(url)
        while not stopping:
            if any(s.poll() is not None for s in servers):
                raise OrchestrateError("a Dagster server stopped: see <home>/dagster/*.log")
            time.sleep(0.5)
        return 0
    finally:
        _stop(servers)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
