"""Fixtures for the Dagster definitions: a data directory on embedded defaults with a small
catalog, a throw-away Dagster instance, and helpers to materialise partitions in-process."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tunelake.config import Settings, load_settings
from tunelake.orchestration.assets import ASSETS
from tunelake.orchestration.checks import CHECKS
from tunelake.orchestration.resources import TunelakeResource

CATALOG_ARTISTS = 40


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tunelake's configuration as the orchestration reads it: the environment."""
    monkeypatch.chdir(tmp_path)  # no stray tunelake.toml from the working directory
    monkeypatch.setenv("TUNELAKE_CATALOG_ARTISTS", str(CATALOG_ARTISTS))
    for name in ("TUNELAKE_HOME", "TUNELAKE_PROFILE", "TUNELAKE_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


Materialise = Callable[..., dg.ExecuteInProcessResult]


@pytest.fixture
def materialise(env: Path, instance: dg.DagsterInstance) -> Materialise:
    """Materialise assets (all by default, with their checks) for one partition of a home."""

    def run(
        partition: str,
        home: str = "home",
        selection: Sequence[Any] | None = None,
        raise_on_error: bool = True,
        tags: dict[str, str] | None = None,
        **run_config: Any,
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [*ASSETS, *CHECKS],
            selection=selection,
            partition_key=partition,
            instance=instance,
            resources={"tunelake": TunelakeResource(home=str(env / home))},
            raise_on_error=raise_on_error,
            tags=tags,
            run_config=run_config or None,
        )

    return run


@pytest.fixture
def settings_of(env: Path) -> Callable[[str], Settings]:
    return lambda home="home": load_settings(home=env / home)


class Receiver:
    """A webhook receiver on loopback: keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, "raw": body.decode(), **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.token = "T0KEN-in-the-hook-url"
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{self.token}"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch, env: Path) -> Iterator[Receiver]:
    """A local webhook, configured as the alert webhook."""
    hook = Receiver()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("TUNELAKE_ALERT_WEBHOOK_URL", hook.url)
    yield hook
    hook.server.shutdown()
    hook.server.server_close()
