"""Who may call what, and what never leaves the server: tokens, passwords, tracebacks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.service.conftest import TOKEN, running, settings_of
from tunelake.observability import configure_logging

ASK = {"artist": "Someone New"}


def test_writes_need_the_configured_token(client: httpx.Client) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        answer = client.post("/ingest-requests", json=ASK, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.headers["content-type"] == "application/problem+json"
    accepted = client.post(
        "/ingest-requests", json=ASK, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert accepted.status_code == 202


def test_without_a_configured_token_writes_refuse_everyone(published: Path) -> None:
    with running(settings_of(published)) as client:
        for token in ("anything", TOKEN):
            answer = client.post(
                "/ingest-requests", json=ASK, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 401
            assert "no API token" in answer.json()["detail"]


def test_reads_are_public_by_default_and_can_be_closed(
    published: Path, client: httpx.Client
) -> None:
    assert client.get("/runs").status_code == 200
    with running(settings_of(published, api_token=TOKEN, api_public_reads=False)) as closed:
        assert closed.get("/runs").status_code == 401
        assert closed.get("/").status_code == 401
        assert closed.post("/chat/kakao", json={}).status_code == 401
        assert closed.get("/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert closed.get("/ping").status_code == 200  # liveness stays open


def test_cors_is_off_by_default(client: httpx.Client) -> None:
    answer = client.get("/runs", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_no_secret_reaches_a_client_or_the_log(published: Path, tmp_path: Path) -> None:
    password = "pw-" + TOKEN[-8:]
    log_file = configure_logging(tmp_path / "logs")
    assert log_file is not None
    # a serving store whose URL holds a password, on a port where nothing listens
    settings = settings_of(
        published,
        api_token=TOKEN,
        serving_url=f"redis://:{password}@127.0.0.1:1/0",
        request_timeout=1,
    )
    with running(settings) as client:
        answers = [
            client.get("/artists/x/similar", headers={"Authorization": f"Bearer {TOKEN}"}),
            client.get("/health"),
            client.post("/ingest-requests", json=ASK, headers={"Authorization": "Bearer wrong"}),
            client.get(f"/runs?token={TOKEN}", headers={"Authorization": f"Bearer {TOKEN}"}),
            client.get("/metrics"),
        ]
    assert [a.status_code for a in answers[:3]] == [503, 503, 401]
    logged = log_file.read_text(encoding="utf-8")
    assert '"route": "/artists/{artist_id}/similar"' in logged  # the access log is there
    assert "ServingUnavailable" in logged and "Traceback" not in logged  # a dict, not text
    for text in [logged, *(a.text for a in answers)]:
        assert TOKEN not in text
        assert password not in text
    assert all("Traceback" not in a.text and 'File "' not in a.text for a in answers)


@pytest.mark.parametrize("path", ["/openapi.json", "/metrics", "/health", "/ping"])
def test_operations_endpoints_answer(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_token_in_the_environment_is_no_token(
    published: Path, monkeypatch: pytest.MonkeyPatch, empty: str
) -> None:
    monkeypatch.setenv("TUNELAKE_API_TOKEN", empty)
    settings = settings_of(published)
    assert settings.api_token is None
    with running(settings) as client:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer x"}):
            answer = client.post("/ingest-requests", json=ASK, headers=headers)
            assert answer.status_code == 401, headers
            assert "no API token" in answer.json()["detail"]
