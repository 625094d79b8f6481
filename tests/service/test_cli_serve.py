"""`tunelake serve` as the README gives it: a process that prints its URL and serves."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx


def test_serve_on_a_free_port_prints_its_url_and_stops_on_sigint(published: Path) -> None:
    env = {**os.environ, "TUNELAKE_API_TOKEN": "cli-token-never-printed"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tunelake", "serve", "--home", str(published), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert found, line
        base = found[0]
        assert httpx.get(f"{base}/ping", timeout=30).json() == {"ok": True}
        assert "Overview" in httpx.get(f"{base}/", timeout=30).text
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # uvicorn shuts down gracefully, then re-raises the SIGINT it caught: 128 + 2, as Ctrl-C
    assert process.returncode == 128 + signal.SIGINT, err
    assert "Traceback" not in err
    assert "cli-token-never-printed" not in line + out + err
