"""One run at a time per data directory and dt.

Two runs of one dt would fetch everything twice and land it twice in the raw zone. A run
holds an exclusive `flock` on `<home>/locks/dt=<dt>.lock` while it works; the kernel drops
the lock when the process ends, however it ends, so a lock left by a killed run is taken
over by the next one without anyone deleting a file. The file names the holder (run, pid,
since) for the message the second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from tunelake.errors import TransientError
from tunelake.observability import now


class RunLocked(TransientError):
    """Another run holds this data directory's dt; try again when it has finished."""


@contextmanager
def dt_lock(home: Path, dt: date, holder: str) -> Iterator[None]:
    """Hold the dt's lock for the block; raise RunLocked at once if another process has it."""
    with home_lock(home, f"dt={dt.isoformat()}", holder, f"dt {dt} of {home}"):
        yield


@contextmanager
def current_lock(home: Path, holder: str) -> Iterator[None]:
    """Hold the home's current-state lock for the block, waiting for another holder to finish:
    whether a dt is the newest must not change between deciding it and writing the warehouse
    and the serving store. Every writer of current state is short, so waiting is the answer
    (two backfills of different dts at once would otherwise leave an older dt as current)."""
    with home_lock(home, "current", holder, f"the current state of {home}", wait=True):
        yield


@contextmanager
def home_lock(
    home: Path, name: str, holder: str, what: str, *, wait: bool = False
) -> Iterator[None]:
    """Hold `<home>/locks/<name>.lock` for the block; unless `wait`, raise RunLocked at once,
    naming `what` and its holder, if another process has it."""
    folder = home / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(
                f"{what} is being processed by {_holder(path)}; "
                "wait for it to finish, or stop it, then run again"
            ) from None
        os.ftruncate(fd, 0)
        info = {"holder": holder, "pid": os.getpid(), "since": now().isoformat(timespec="seconds")}
        os.write(fd, json.dumps(info).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"{info['holder']} (pid {info['pid']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another run"
