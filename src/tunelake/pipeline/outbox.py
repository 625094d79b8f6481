"""The outbox of ingest requests: every transition of a request, in one place.

    (queued) review ──approve──► pending ──discover──► done | ambiguous | not_found
                                    └──── run failed ──► failed

Who asks (the CLI's `ingest --queue`, the API, the chatbot) queues; the stage runner adds the
pending requests to a run and records what discovery made of each; the automation's failure
sensor marks the requests of a failed run. A writer opens the warehouse alone (no lake, no
serving store); a reader opens it read-only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from tunelake.config import Settings
from tunelake.errors import InputError
from tunelake.names import checked_query, normalise_name
from tunelake.pipeline.resources import reading_warehouse, writing_warehouse
from tunelake.sources.port import Resolution
from tunelake.storage.warehouse.port import Warehouse


def _open_requests(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    """Pending and in-review requests by normalised query."""
    rows = warehouse.pending_ingest_requests()
    rows += warehouse.read("ingest_requests", {"status": "review"}).to_pylist()
    return {normalise_name(r["query"]): r for r in rows}


def queue(
    settings: Settings, queries: Sequence[str], *, source: str, review: bool = False
) -> list[dict[str, Any]]:
    """Queue requests for artist names or ids; idempotent per normalised name (a query open
    already, in any case or spacing, returns its existing request). Returns one row per
    distinct query, in order."""
    wanted = [checked_query(q, "an ingest request's artist") for q in queries]
    if not wanted:
        raise InputError("an ingest request needs an artist name or id")
    with writing_warehouse(settings) as warehouse:
        known = _open_requests(warehouse)
        new = [q for q in dict.fromkeys(wanted) if normalise_name(q) not in known]
        if new:
            status = "review" if review else "pending"
            warehouse.add_ingest_requests(new, source=source, status=status)
            known = _open_requests(warehouse)
    return [known[normalise_name(q)] for q in dict.fromkeys(wanted)]


def approve(settings: Settings, request_id: int) -> None:
    """A request waiting for review joins the queue."""
    with writing_warehouse(settings) as warehouse:
        warehouse.approve_ingest_request(request_id)


def pending_queries(warehouse: Warehouse) -> list[str]:
    """What a run adds to its queries: every pending request's query, oldest first."""
    return list(dict.fromkeys(r["query"] for r in warehouse.pending_ingest_requests()))


def pending(settings: Settings) -> list[dict[str, Any]]:
    """The pending requests, read-only (the automation's sensor polls this)."""
    with reading_warehouse(settings) as warehouse:
        return warehouse.pending_ingest_requests()


def record_outcomes(warehouse: Warehouse, resolutions: Mapping[str, Resolution]) -> None:
    """After discovery: each pending request whose query was resolved (or not) ends
    done, ambiguous or not_found."""
    for request in warehouse.pending_ingest_requests():
        outcome = resolutions.get(request["query"])
        if outcome is not None:
            status = "done" if outcome.status == "resolved" else outcome.status
            warehouse.resolve_ingest_request(
                request["request_id"], status, outcome.artist_id, outcome.detail
            )


def mark_failed(settings: Settings, request_ids: Collection[int], cause: str) -> int:
    """The requests of a failed run that are still pending end `failed` with the cause.
    Returns how many."""
    marked = 0
    with writing_warehouse(settings) as warehouse:
        for request in warehouse.pending_ingest_requests():
            if request["request_id"] in request_ids:
                warehouse.resolve_ingest_request(request["request_id"], "failed", None, cause)
                marked += 1
    return marked
