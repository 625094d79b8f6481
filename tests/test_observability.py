"""Logs and what a failed command leaves: one line for the user, a traceback without local
variables in the log file, and never a credential anywhere."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunelake.cli import app
from tunelake.errors import EX_TEMPFAIL
from tunelake.observability import LOG_FILE

TOKEN = "planted-bearer-token-3f9c2a71e8"
CLIENT_SECRET = "planted-client-secret-b41d07"


class _FailingApi(BaseHTTPRequestHandler):
    """Grants a known token, then answers every API call with a 500."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})
        self._send(200, body)

    def do_GET(self) -> None:
        self._send(500, json.dumps({"error": {"status": 500, "message": "boom"}}))

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # quiet test output
        return None


@pytest.fixture
def failing_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_failed_run_leaves_no_credential_anywhere_and_prints_one_line(
    failing_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "TUNELAKE_SPOTIFY_CLIENT_ID": "planted-client-id",
        "TUNELAKE_SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
        "TUNELAKE_SPOTIFY_ACCOUNTS_URL": failing_api,
        "TUNELAKE_SPOTIFY_API_URL": f"{failing_api}/v1",
        "TUNELAKE_MAX_RETRIES": "1",
    }.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(
        app, ["run", "--home", str(home), "--source", "spotify", "--artist", "Anyone"]
    )

    assert result.exit_code == EX_TEMPFAIL, result.output  # retries exhausted: transient
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "failed at step discover" in errors[0]
    assert "Traceback" not in result.output
    log = home / "logs" / LOG_FILE
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    failures = [e for e in events if e.get("exception")]
    assert failures, "the traceback is in the log file"
    for event in failures:
        for trace in event["exception"]:
            assert all("locals" not in frame for frame in trace["frames"])
    written = [
        p for p in home.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json", ".html")
    ]
    assert written, "the failed run left its log, run record and report"
    left = [result.output, *(p.read_text(errors="replace") for p in written)]
    for text in left:
        for secret in (TOKEN, CLIENT_SECRET):
            assert secret not in text


def test_credentials_written_into_a_message_are_masked(tmp_path: Path) -> None:
    import structlog

    from tunelake.observability import configure_logging

    path = configure_logging(tmp_path)
    assert path is not None
    structlog.get_logger("t").warning(
        "request failed", detail=f"headers: Authorization: Bearer {TOKEN}", client_secret="x"
    )
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text and "Bearer **********" in text
    assert json.loads(text.splitlines()[-1])["client_secret"] == "**********"


def test_logging_without_a_writable_folder_is_no_failure(tmp_path: Path) -> None:
    from tunelake.observability import configure_logging

    missing = tmp_path / "nowhere" / "logs"
    assert configure_logging(missing, create=False) is None
    assert not missing.exists()
