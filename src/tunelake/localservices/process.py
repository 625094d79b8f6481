"""What every local server launcher shares: ports on loopback, a data directory holding the
server's log and a state file (pid, command line, endpoint), starting until ready, finding a
detached server again, and stopping it.

A launcher describes its server with a `ServerKind` (name, file names, error class) and keeps
only what is specific to it: its command line, its readiness probe, its extra state.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import psutil
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from tunelake.errors import UserError

HOST = "127.0.0.1"
LOG_TAIL_LINES = 20
READY_POLL_SECONDS = 0.02


class ServiceError(UserError):
    """A local server could not be installed, started, found or stopped; the message says why.

    An OSError, as a taken port or a missing executable is: callers (the CLI) that report the
    machine's errors in one line report these too."""


class PortHold:
    """Binds ports on HOST and keeps them bound until closed, so no port is chosen twice."""

    def __init__(self) -> None:
        self._sockets = ExitStack()

    def take(self, port: int) -> int | None:
        """Bind `port` (0: any free one) and return it, or None if something else has it."""
        sock = self._sockets.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        # The servers set SO_REUSEADDR too: a port whose last connections linger in TIME_WAIT
        # (a server just stopped) is free for them. Listening makes the hold exclusive again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return None
        sock.listen()
        taken: int = sock.getsockname()[1]
        return taken

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sockets.close()


def alive(pid: int) -> bool:
    """pid has not finished exiting. Our own child is reaped here once it has."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == 0
    except ChildProcessError:
        pass  # started by another process: its parent (maybe an init that never reaps) waits
    try:
        if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            return True
        # A zombie main thread whose other threads still run (node tearing down) still holds
        # the process's sockets; the process is gone when only that thread is left.
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except (psutil.NoSuchProcess, FileNotFoundError):
        return False


def runs(pid: int, command: Sequence[str]) -> bool:
    """pid is alive and runs exactly `command`: a recycled pid does not pass for our server."""
    try:
        return alive(pid) and psutil.Process(pid).cmdline() == list(command)
    except psutil.Error:
        return False


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL if pid still runs after `timeout` seconds; returns once it is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while alive(pid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        else:
            return
    raise ServiceError(f"process {pid} still runs {timeout:g} s after SIGKILL")


def terminate_group(pgid: int, timeout: float, *, kill: bool = False) -> None:
    """Terminate every process of group pgid (a server started `detached` leads its own):
    SIGTERM, then SIGKILL after `timeout` seconds (at once with kill=True); returns when the
    leader is gone. What the leader started (a Spark worker's executors) goes with it."""
    waits = (
        [(signal.SIGKILL, 10.0)] if kill else [(signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)]
    )
    for sig, wait in waits:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while alive(pgid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        else:
            return
    raise ServiceError(f"process group {pgid} still runs {timeout:g} s after SIGKILL")


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class ServerKind:
    """One kind of server: its name in messages, its files in the data directory, its error."""

    name: str
    state_file: str
    log_file: str
    error: type[ServiceError]
    stop_timeout: float
    forget_hook: Callable[[dict[str, Any]], None] | None = None
    """Removes what a stopped server leaves outside its data directory, given its state."""

    def at(self, data_dir: Path) -> ServerDir:
        return ServerDir(self, Path(data_dir).resolve())

    def take_port(self, port: int) -> int:
        """`port` if nothing listens on it, or any free port for 0."""
        with PortHold() as hold:
            taken = hold.take(port)
        if taken is None:
            raise self.error(
                f"port {port} on {HOST} is taken by another process: stop it or choose "
                f"another port for {self.name} (0 picks any free one)"
            )
        return taken


@dataclass(frozen=True)
class ServerDir:
    """The data directory of one server of a kind."""

    kind: ServerKind
    path: Path

    @property
    def state_path(self) -> Path:
        return self.path / self.kind.state_file

    @property
    def log_path(self) -> Path:
        return self.path / self.kind.log_file

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return tail(self.log_path.read_text(errors="replace"))

    def state(self) -> dict[str, Any] | None:
        """What the last start recorded, whether or not the server still runs."""
        if not self.state_path.exists():
            return None
        try:
            state: dict[str, Any] = json.loads(self.state_path.read_text())
        except json.JSONDecodeError as exc:
            raise self.kind.error(
                f"{self.state_path} is not valid JSON ({exc}); delete it"
            ) from exc
        return state

    def running(self) -> dict[str, Any] | None:
        """The recorded state if its process still runs the recorded command, else None."""
        state = self.state()
        if state is None or not runs(state["pid"], state["command"]):
            return None
        return state

    def refuse_if_running(self) -> None:
        state = self.running()
        if state is not None:
            raise self.kind.error(
                f"{self.kind.name} already runs from {self.path} at {state['endpoint_url']} "
                f"(pid {state['pid']}); stop it first (tunelake services down)"
            )

    def start(
        self,
        command: list[str],
        *,
        endpoint_url: str,
        detached: bool,
        ready: Callable[[], object],
        retry_on: tuple[type[Exception], ...],
        timeout: float,
        env: dict[str, str] | None = None,
        **state: Any,
    ) -> subprocess.Popen[bytes]:
        """Launch `command` from this directory, its output appended to the log, and call
        `ready` until it stops raising `retry_on`; then record the state (pid, command,
        endpoint_url and `state`). A server that fails to become ready is stopped.

        detached=True starts it in its own session so it outlives this process; env: its
        environment (None: this process's)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=self.path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=detached,
                env=env,
            )
        try:
            self._wait_ready(process, endpoint_url, ready, retry_on, timeout)
        except BaseException:
            terminate(process.pid, timeout=5.0)
            process.poll()
            raise
        recorded = {"pid": process.pid, "endpoint_url": endpoint_url, "command": command}
        temp = self.state_path.with_name(f"{self.state_path.name}.tmp")
        temp.write_text(json.dumps({**recorded, **state}, indent=2))
        temp.replace(self.state_path)
        return process

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the server running from here; False if none was running."""
        state = self.running()
        if state is not None:
            terminate(state["pid"], self.kind.stop_timeout if timeout is None else timeout)
        self.forget()  # also the state of a server that died on its own
        return state is not None

    def forget(self) -> None:
        state = self.state()
        self.state_path.unlink(missing_ok=True)
        if state is not None and self.kind.forget_hook is not None:
            self.kind.forget_hook(state)

    def _wait_ready(
        self,
        process: subprocess.Popen[bytes],
        endpoint_url: str,
        ready: Callable[[], object],
        retry_on: tuple[type[Exception], ...],
        timeout: float,
    ) -> None:
        def attempt() -> None:
            if process.poll() is not None:
                raise self.kind.error(
                    f"{self.kind.name} exited with status {process.returncode} while starting; "
                    f"its log ({self.log_path}) ends with:\n{self.log_tail()}"
                )
            ready()

        retrying = Retrying(
            retry=retry_if_exception_type(retry_on),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(READY_POLL_SECONDS),
            reraise=True,
        )
        try:
            retrying(attempt)
        except retry_on as exc:
            raise self.kind.error(
                f"{self.kind.name} at {endpoint_url} did not become ready within {timeout:g} s "
                f"({exc}); its log ({self.log_path}) ends with:\n{self.log_tail()}"
            ) from exc


@dataclass(frozen=True, kw_only=True)
class Server:
    """A running server. Stop it with `stop()` or by leaving its `with` block; one started
    without `detached` also stops when this interpreter exits."""

    kind: ClassVar[ServerKind]

    data_dir: Path
    endpoint_url: str
    pid: int
    # Held so the child is not reported as leaked while it runs; stop() reaps it.
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def stop_at_exit(self) -> None:
        atexit.register(self.stop)

    def stop(self, timeout: float | None = None) -> None:
        """Stop this server; a no-op once it is stopped (its pid may serve another by then)."""
        atexit.unregister(self.stop)
        directory = self.kind.at(self.data_dir)
        state = directory.running()
        if state is not None and state["pid"] == self.pid:
            directory.stop(timeout)
        if self._process is not None:
            self._process.poll()  # records the exit stop() reaped, so no leak is reported

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
