"""Headless Chromium (Debian's `chromium`) driven over the Chrome DevTools Protocol: just what
the dashboard test needs: open a page, run a script in it, wait for the next load, take a
screenshot."""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

TIMEOUT = 60.0
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab, through a session on the browser's connection."""

    def __init__(self, ws: ClientConnection, session: str) -> None:
        self._ws = ws
        self._session = session
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._ws.send(
            json.dumps(
                {"id": message_id, "method": method, "params": params, "sessionId": self._session}
            )
        )
        while True:
            message = json.loads(self._ws.recv(timeout=TIMEOUT))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._events.append(message)

    def _wait_for(self, event: str) -> None:
        while True:
            seen = next((e for e in self._events if e.get("method") == event), None)
            if seen is not None:
                self._events.clear()
                return
            self._events.append(json.loads(self._ws.recv(timeout=TIMEOUT)))

    def open(self, url: str) -> None:
        self._events.clear()
        self.send("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def evaluate_then_load(self, expression: str) -> None:
        """Run a script that leaves the page (a click, a submit) and wait for the next one."""
        self._events.clear()
        self.evaluate(expression)
        self._wait_for("Page.loadEventFired")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def headless_page(profile_dir: Path, width: int = 1280, height: int = 1000) -> Iterator[Page]:
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    process = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",  # tests run as root in CI
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile_dir}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            found = _LISTENING.search(line)
            if found:
                break
        else:
            raise RuntimeError(f"chromium exited ({process.wait()}) without a DevTools endpoint")
        with connect(found[1], max_size=None, open_timeout=TIMEOUT) as ws:
            ws.send(
                json.dumps(
                    {"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}}
                )
            )
            target = _result(ws, 1)["targetId"]
            ws.send(
                json.dumps(
                    {
                        "id": 2,
                        "method": "Target.attachToTarget",
                        "params": {"targetId": target, "flatten": True},
                    }
                )
            )
            page = Page(ws, _result(ws, 2)["sessionId"])
            page.send("Page.enable")
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _result(ws: ClientConnection, message_id: int) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=TIMEOUT))
        if message.get("id") == message_id:
            result: dict[str, Any] = message["result"]
            return result
