"""Iceberg commits are optimistic: one that loses a race with another writer of the same table
(`CommitFailedException`) is redone on the table's fresh state, a bounded number of times."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pyiceberg.exceptions import CommitFailedException
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_random_exponential as wait_jitter

from tunelake.storage.lake.port import LakeConflict

COMMIT_ATTEMPTS = 8
"""A commit that loses this many races in a row is reported instead of retried."""

T = TypeVar("T")


def retry_races(table: str, attempt: Callable[[], T]) -> T:
    """attempt() (which must load the table afresh) until it commits."""
    retrying = Retrying(
        retry=retry_if_exception_type(CommitFailedException),
        stop=stop_after_attempt(COMMIT_ATTEMPTS),
        wait=wait_jitter(multiplier=0.01, max=0.5),
    )
    try:
        return retrying(attempt)
    except RetryError as exc:
        raise LakeConflict(
            f"{table}: {COMMIT_ATTEMPTS} commits in a row lost a race with other writers; "
            "try again"
        ) from exc.last_attempt.exception()
