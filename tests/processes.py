"""Processes in tests: the tunelake command as a user starts it, and several processes doing
one thing at the same moment (the races of runs that start together, as a Dagster backfill
launches its runs)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def tunelake(home: Path, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    """`tunelake ARGS --home HOME` started in HOME's parent folder, its output in pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "tunelake", *args, "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=home.parent,
        **kwargs,  # type: ignore[call-overload]
    )


def at_once(work: Callable[..., Any], *args: Any, count: int = 4) -> list[Any]:
    """work(*args) in `count` fresh (spawned) processes released together by a barrier; their
    results, in the order they finished. Each process must exit cleanly. work must be a
    module-level function (spawn pickles it by name)."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(count), context.Queue()
    processes = [
        context.Process(target=_released, args=(work, args, ready, results)) for _ in range(count)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * count
    return [results.get(timeout=5) for _ in range(count)]


def _released(work: Callable[..., Any], args: tuple[Any, ...], ready: Any, results: Any) -> None:
    ready.wait()
    results.put(work(*args))
