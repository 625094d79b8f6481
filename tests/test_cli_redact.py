"""A URL setting's password never shows: not on the terminal, not in the log file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tunelake.redact import mask_url, mask_urls_in

PASSWORD = "pw-7q3z"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_url_in_a_text_is_masked() -> None:
    text = (
        f"cannot reach http://user:{PASSWORD}@host:9000 (after s3://bucket/x); "
        f"also redis://:{PASSWORD}@127.0.0.1/0, fine: https://example.org/a?b=c"
    )
    masked = mask_urls_in(text)
    assert PASSWORD not in masked
    assert "http://user:***@host:9000" in masked and "redis://:***@127.0.0.1/0" in masked
    assert "s3://bucket/x" in masked and "https://example.org/a?b=c" in masked
    assert mask_urls_in("no url here") == "no url here"
    assert mask_url("http://[::1") == "(hidden: not a readable URL)"
    # no scheme, so no URL parser finds the password (doctor printed such a setting whole)
    assert mask_url(f"not a url :{PASSWORD}@") == "(hidden: not a readable URL)"
    assert mask_url("/home/me@corp/lake") == "/home/me@corp/lake"


@pytest.mark.parametrize(
    ("env", "args", "code"),
    [
        (
            {
                "TUNELAKE_LAKE_URL": "s3://bucket/x",
                "TUNELAKE_S3_ENDPOINT_URL": f"http://user:{PASSWORD}@127.0.0.1:{closed_port()}",
                "TUNELAKE_S3_ACCESS_KEY_ID": "k",
                "TUNELAKE_S3_SECRET_ACCESS_KEY": "s",
            },
            ["run", "--dt", "2026-11-26"],
            69,
        ),
        (
            {
                "TUNELAKE_WAREHOUSE_URL": (
                    f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:{closed_port()}/db"
                )
            },
            ["run", "--dt", "2026-11-26"],
            69,
        ),
    ],
)
def test_a_url_setting_s_password_is_masked_on_the_terminal_and_in_the_log(
    tmp_path: Path, env: dict[str, str], args: list[str], code: int
) -> None:
    home = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-m", "tunelake", *args, "--home", str(home)],
        env={**os.environ, "TUNELAKE_CATALOG_ARTISTS": "10", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == code, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and ":***@127.0.0.1" in last
    log = (home / "logs" / "tunelake.jsonl").read_text(encoding="utf-8")
    assert ":***@127.0.0.1" in log
    everything = done.stdout + done.stderr + log
    everything += "".join(p.read_text() for p in (home / "runs").glob("*.json"))
    assert PASSWORD not in everything
