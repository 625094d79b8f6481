"""Iceberg commits are optimistic. pyiceberg re-applies a commit that lost a race on the fresh
metadata itself, but gives up with `CommitFailedException` after a few tries, and with
`ValidationException` when the other writer changed the same partition meanwhile; either way
the whole write is redone here on the table's fresh state, a bounded number of times (for
writers of one dt the last commit wins: each replaces the whole partition)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pyiceberg.exceptions import CommitFailedException, ValidationException
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_random_exponential as wait_jitter

from tunelake.storage.lake.port import LakeConflict

COMMIT_ATTEMPTS = 8
"""A commit that loses this many races in a row is reported instead of retried."""

T = TypeVar("T")


def retry_races(table: str, attempt: Callable[[], T]) -> T:
    """attempt() (which must load the table afresh) until it commits."""
    retrying = Retrying(
        retry=retry_if_exception_type((CommitFailedException, ValidationException)),
        stop=stop_after_attempt(COMMIT_ATTEMPTS),
        wait=wait_jitter(multiplier=0.01, max=0.5),
    )
    try:
        return retrying(attempt)
    except RetryError as exc:
        raise LakeConflict(
            f"{table}: {COMMIT_ATTEMPTS} commits in a row lost a race with other writers; try again"
        ) from exc.last_attempt.exception()
