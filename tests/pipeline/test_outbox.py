"""The outbox of ingest requests: queuing opens the warehouse alone; each transition lives
in pipeline/outbox.py."""

from __future__ import annotations

import pytest

from tunelake import app
from tunelake.errors import InputError
from tunelake.names import MAX_QUERY_LENGTH
from tunelake.pipeline import outbox


def test_queuing_a_request_opens_the_warehouse_alone(make_settings):
    settings = make_settings()

    (queued,) = app.request_ingest(settings, ["Somebody"], source="api")

    assert queued.status == "pending"
    made = sorted(p.name for p in settings.home.iterdir())
    assert "lake" not in made and "serving.db" not in made  # no lake, no serving store
    assert [r["query"] for r in outbox.pending(settings)] == ["Somebody"]


def test_a_failed_run_marks_its_pending_requests_failed(make_settings):
    settings = make_settings()
    first, second = app.request_ingest(settings, ["One", "Two"], source="cli")

    assert outbox.mark_failed(settings, {first.request_id}, "run r1 failed: boom") == 1

    failed = app.ingest_request(settings, first.request_id)
    assert failed.status == "failed" and failed.detail == "run r1 failed: boom"
    assert app.ingest_request(settings, second.request_id).status == "pending"
    assert outbox.mark_failed(settings, {first.request_id}, "again") == 0  # failed once only


@pytest.mark.parametrize("query", ["  ", "x" * (MAX_QUERY_LENGTH + 1)])
def test_a_blank_or_huge_request_is_refused_before_the_warehouse(make_settings, query):
    settings = make_settings()
    with pytest.raises(InputError, match=r"^an ingest request's artist is "):
        app.request_ingest(settings, ["Fine", query], source="api")
    assert not settings.home.exists()  # nothing queued, nothing created
