"""The JSON API over real HTTP, against the stores of real pipeline runs: on the embedded
profile (SQLite serving store) and with Redis as the serving store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import (
    BAD_TRACK,
    DT,
    DUMP_DT,
    TOKEN,
    first_artist,
    running,
    settings_of,
)
from tunelake.config import Settings
from tunelake.pipeline.resources import reading_serving, reading_warehouse

PROBLEM = "application/problem+json"


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("redis", id="redis", marks=pytest.mark.services),
    ],
)
def backend(
    request: pytest.FixtureRequest, published: Path
) -> Iterator[tuple[Settings, httpx.Client]]:
    """(the settings the server runs on, a client of it), per serving backend."""
    if request.param == "sqlite":
        settings = settings_of(published)
    else:
        settings = request.getfixturevalue("published_on_redis")
    with running(settings) as client:
        yield settings, client


def test_similar_is_the_serving_documents_neighbours(
    backend: tuple[Settings, httpx.Client],
) -> None:
    settings, client = backend
    with reading_serving(settings) as store:
        assert store.url.startswith("redis://" if settings.serving_url else "sqlite:///")
        with reading_warehouse(settings) as warehouse:
            some_id = warehouse.read("artists")["artist_id"][0].as_py()
        doc = store.get(some_id)
    assert doc is not None

    answer = client.get(f"/artists/{some_id}/similar")

    assert answer.status_code == 200
    neighbours = answer.json()
    assert [n["artist_id"] for n in neighbours] == [r["artist_id"] for r in doc["related_artists"]]
    assert [n["rank"] for n in neighbours] == list(range(1, len(neighbours) + 1))
    assert len(neighbours) == settings.similarity_k


def test_artist_and_top_tracks(backend: tuple[Settings, httpx.Client]) -> None:
    _, client = backend
    artist = first_artist(client)

    doc = client.get(f"/artists/{artist['artist_id']}").json()
    tracks = client.get(f"/artists/{artist['artist_id']}/top-tracks").json()

    assert doc["name"] == artist["name"] and doc["dt"] == DT.isoformat()
    assert tracks and tracks == doc["top_tracks"]
    assert [t["rank"] for t in tracks] == sorted(t["rank"] for t in tracks)


def test_an_unknown_artist_is_a_404_problem(backend: tuple[Settings, httpx.Client]) -> None:
    _, client = backend
    for path in ("/artists/nobody", "/artists/nobody/similar", "/artists/nobody/top-tracks"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == PROBLEM
        problem = answer.json()
        assert problem["status"] == 404 and problem["title"] == "Not Found"
        assert "nobody" in problem["detail"]


def test_search_is_paginated_and_case_insensitive(client: httpx.Client) -> None:
    whole = client.get("/artists", params={"q": "THE", "limit": 100}).json()
    assert whole["total"] == len(whole["items"]) > 4
    assert all("the" in a["name"].lower() for a in whole["items"])
    pages = [
        client.get("/artists", params={"q": "the", "limit": 2, "offset": offset}).json()
        for offset in range(0, whole["total"], 2)
    ]
    assert [a for p in pages for a in p["items"]] == whole["items"]
    assert {p["total"] for p in pages} == {whole["total"]}
    past = client.get("/artists", params={"q": "the", "offset": whole["total"]}).json()
    assert past["items"] == [] and past["total"] == whole["total"]


def hangul(name: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in name)


def test_search_finds_korean_names(client: httpx.Client, published: Path) -> None:
    with reading_warehouse(settings_of(published)) as warehouse:
        names = warehouse.read("artists").select(["artist_id", "name"]).to_pylist()
    korean = next(a for a in names if hangul(a["name"]))

    found = client.get("/artists", params={"q": korean["name"][1:]}).json()

    assert korean in [{k: a[k] for k in ("artist_id", "name")} for a in found["items"]]


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "x" * 201},
        {"q": "a", "limit": 0},
        {"q": "a", "limit": 101},
        {"q": "a", "offset": -1},
        {},
    ],
)
def test_query_limits_are_422_problems(client: httpx.Client, params: dict[str, object]) -> None:
    answer = client.get("/artists", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["detail"].startswith("query.")


def test_runs_and_a_run_with_its_rejects_by_reason(client: httpx.Client) -> None:
    runs = client.get("/runs").json()
    assert [r["dt"] for r in runs] == [DUMP_DT.isoformat(), DT.isoformat()]
    assert {r["status"] for r in runs} == {"ok"}
    dump_run = runs[0]
    assert [s["step"] for s in dump_run["steps"]][:2] == ["discover", "extract"]

    detail = client.get(f"/runs/{dump_run['run_id']}").json()

    assert detail["run"]["run_id"] == dump_run["run_id"]
    validate = next(s for s in detail["run"]["steps"] if s["step"] == "validate")
    assert validate["rows_quarantined"] == 1
    (reject,) = detail["rejects"]
    assert reject["dataset"] == "audio_features" and reject["rows"] == 1
    assert "danceability" in reject["reason"]
    assert client.get(f"/runs/{runs[1]['run_id']}").json()["rejects"] == []
    assert client.get("/runs/no-such-run").status_code == 404
    assert BAD_TRACK not in client.get(f"/runs/{dump_run['run_id']}").text  # counts, not rows


def test_ingest_request_is_queued_once_per_normalised_name(client: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    first = client.post("/ingest-requests", json={"artist": "Sigur Rós"}, headers=auth)
    again = client.post("/ingest-requests", json={"artist": "  SIGUR  rós "}, headers=auth)

    assert first.status_code == again.status_code == 202
    request = first.json()
    assert again.json()["request_id"] == request["request_id"]
    assert request["status"] == "pending" and request["source"] == "api"
    assert first.headers["location"] == f"/ingest-requests/{request['request_id']}"
    read = client.get(first.headers["location"]).json()
    assert read["query"] == "Sigur Rós" and read["request_id"] == request["request_id"]
    assert client.get("/ingest-requests/999999").status_code == 404


def test_a_body_over_the_limit_is_refused(client: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    huge = {"artist": "x" * 20_000}
    answer = client.post("/ingest-requests", json=huge, headers=auth)
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM

    def chunks() -> Iterator[bytes]:  # no Content-Length: read only up to the limit
        yield b'{"artist": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}'

    answer = client.post(
        "/ingest-requests", content=chunks(), headers={**auth, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413


def test_health_checks_every_store(client: httpx.Client, published: Path) -> None:
    answer = client.get("/health")
    assert answer.status_code == 200
    report = answer.json()
    assert report["status"] == "ok"
    assert [c["role"] for c in report["checks"]] == ["warehouse", "lake", "serving"]
    assert all(c["ok"] for c in report["checks"])


def test_health_is_503_when_a_store_is_down(published: Path) -> None:
    # a Redis URL on a port where nothing listens
    settings = settings_of(published, serving_url="redis://127.0.0.1:1/0", request_timeout=1)
    with running(settings) as client:
        answer = client.get("/health")
        similar = client.get("/artists/x/similar")
        metrics = client.get("/metrics").text
    assert 'tunelake_serving_store_errors_total{error="ServingUnavailable"} 1.0' in metrics
    assert answer.status_code == 503
    serving = next(c for c in answer.json()["checks"] if c["role"] == "serving")
    assert serving == {"role": "serving", "ok": False, "detail": "unreachable"}
    assert similar.status_code == 503 and similar.headers["content-type"] == PROBLEM
    assert "127.0.0.1" not in similar.text and "redis" not in similar.text


def test_metrics_count_requests_by_route(client: httpx.Client) -> None:
    client.get("/artists/nobody")
    text = client.get("/metrics").text
    assert (
        'tunelake_http_requests_total{method="GET",route="/artists/{artist_id}",status="404"}'
        in text
    )
    assert "tunelake_http_request_duration_seconds_bucket" in text
    assert "nobody" not in text  # routes, not raw paths


def test_a_fresh_data_directory_answers_503_saying_nothing_ran(tmp_path: Path) -> None:
    with running(settings_of(tmp_path / "empty")) as client:
        answer = client.get("/artists/x")
        page = client.get("/")
    assert answer.status_code == 503
    assert "nothing has been published yet" in answer.json()["detail"]
    assert str(tmp_path) not in answer.text and str(tmp_path) not in page.text
    assert page.status_code == 503 and "tunelake run" in page.text
    assert not (tmp_path / "empty").exists()  # reading created nothing


def test_search_shows_each_artists_genres_as_its_document_does(client: httpx.Client) -> None:
    found = client.get("/artists", params={"q": "a", "limit": 20}).json()["items"]
    assert any(a["genres"] for a in found)
    for artist in found:
        document = client.get(f"/artists/{artist['artist_id']}").json()
        assert artist["genres"] == sorted(document["genres"]), artist["name"]


AUTH = {"Authorization": f"Bearer {TOKEN}"}
PRIVATE = {"pid", "host"}


def test_runs_show_processes_and_paths_to_token_holders_only(client: httpx.Client) -> None:
    public = client.get("/runs").json()
    full = client.get("/runs", headers=AUTH).json()
    assert [r["run_id"] for r in public] == [r["run_id"] for r in full]
    for shown in public:
        assert all(shown[k] is None for k in PRIVATE) and shown["outputs"] == {}
    assert public[0]["source"] == "file"  # the dump run: which kind of source, not its path
    assert all(isinstance(r["pid"], int) and r["host"] for r in full)
    assert full[0]["source"].startswith("file:/") and full[0]["outputs"]["report"]
    run_id = public[0]["run_id"]
    detail = client.get(f"/runs/{run_id}").json()["run"]
    assert all(detail[k] is None for k in PRIVATE) and detail["outputs"] == {}
    assert client.get(f"/runs/{run_id}", headers=AUTH).json()["run"]["pid"] == full[0]["pid"]
    assert full[0]["outputs"]["report"] not in client.get("/runs").text


@pytest.mark.parametrize(
    "name", ["", " ", "\t\n", "\u3000", "\u0000", "Sig\u0000ur", "Blur\u001b[31m", "\u0085"]
)
def test_an_ingest_name_that_is_blank_or_holds_control_characters_is_422(
    client: httpx.Client, name: str
) -> None:
    answer = client.post("/ingest-requests", json={"artist": name}, headers=AUTH)
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    assert answer.json()["detail"].startswith("body.artist: String should")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b'{"artist": ""}', {"Content-Type": "application/json"}),
        (b"[]", {"Content-Type": "application/json"}),
        (b"artist=x", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b"{not json", {"Content-Type": "application/json", "Authorization": "Bearer wrong"}),
    ],
)
def test_a_write_authenticates_before_it_reads_the_body(
    client: httpx.Client, body: bytes, headers: dict[str, str]
) -> None:
    answer = client.post("/ingest-requests", content=body, headers=headers)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["content-type"] == PROBLEM
    # with the token, the same body is judged on what it holds
    judged = client.post("/ingest-requests", content=body, headers={**headers, **AUTH})
    assert judged.status_code in (400, 422)


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_browser_opening_a_run_gets_its_page(client: httpx.Client) -> None:
    run_id = client.get("/runs").json()[0]["run_id"]  # the dump run, one row in quarantine
    sent = client.get(f"/runs/{run_id}", headers=BROWSER)
    assert sent.status_code == 303 and sent.headers["location"] == f"/dashboard/runs/{run_id}"
    page = client.get(sent.headers["location"], headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f"Run {run_id}" in html and "<td>validate</td>" in html  # the steps table
    assert "audio_features" in html and "danceability" in html  # quarantine by reason
    assert 'id="report"' not in html and "callers with the API token" in html
    for accept in ("application/json", "*/*", "text/html;q=0.5, application/json"):
        answer = client.get(f"/runs/{run_id}", headers={"Accept": accept})
        assert answer.json()["run"]["run_id"] == run_id, accept


def test_the_run_report_is_linked_for_token_holders(client: httpx.Client) -> None:
    run_id = client.get("/runs").json()[0]["run_id"]
    page = client.get(f"/dashboard/runs/{run_id}", headers=AUTH).text
    assert f'href="/dashboard/runs/{run_id}/report"' in page
    report = client.get(f"/dashboard/runs/{run_id}/report", headers=AUTH)
    assert report.status_code == 200 and f"tunelake run {run_id}" in report.text
    assert client.get(f"/dashboard/runs/{run_id}/report").status_code == 401
    assert client.get("/dashboard/runs/no-such-run").status_code == 404
