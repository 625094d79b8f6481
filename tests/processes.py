"""Several processes doing one thing at the same moment: the races of runs that start together
(a Dagster backfill launches its runs so)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any


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
