"""The uvicorn runner both servers share: where it may listen (one-line errors, exit 2), and
that it closes connections that sit idle, over real sockets."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tunelake.errors import UserError
from tunelake.httpserver import CannotListen, bind, serve_in_thread

REQUEST = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("host", "port", "said"),
    [
        ("127.0.0.1", 99999, "cannot listen on port 99999: a port is 0 (a free one) to 65535"),
        ("127.0.0.1", -1, "cannot listen on port -1"),
        ("999.1.1.1", 0, "cannot listen on 999.1.1.1:0: Name or service not known"),
        ("192.0.2.1", 0, "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
    ],
)
def test_where_a_server_cannot_listen_is_a_user_error(host: str, port: int, said: str) -> None:
    with pytest.raises(CannotListen, match=re.escape(said)) as raised:
        bind(host, port, "the server")
    assert isinstance(raised.value, UserError) and "\n" not in str(raised.value)


def test_a_port_in_use_is_a_user_error(taken_port: int) -> None:
    with pytest.raises(CannotListen, match=f"127.0.0.1:{taken_port}: Address already in use"):
        bind("127.0.0.1", taken_port)


def tunelake(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunelake", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["serve", "--port", "99999"], "tunelake serve cannot listen on port 99999"),
        (["serve", "--port", "-1"], "tunelake serve cannot listen on port -1"),
        (["serve", "--host", "999.1.1.1"], "cannot listen on 999.1.1.1:8080"),
        (["catalog", "serve", "--port", "99999"], "the catalog server cannot listen on port"),
        (["catalog", "serve", "--host", "999.1.1.1"], "cannot listen on 999.1.1.1:0"),
        (
            ["catalog", "serve", "--error-5xx", "5"],
            "--error-5xx 5.0: Input should be less than or equal to 1 (valid: from 0.0 to 1.0)",
        ),
        (["catalog", "serve", "--drop", "-0.5"], "--drop -0.5: Input should be greater than"),
        (
            ["catalog", "serve", "--artists", "0"],
            "--artists 0: Input should be greater than or equal to 1 (valid: from 1)",
        ),
    ],
)
def test_the_servers_refuse_where_they_cannot_listen_in_one_line(
    args: list[str], said: str, tmp_path: Any
) -> None:
    home = ["--home", str(tmp_path)] if args[0] == "serve" else []
    done = tunelake(*args, *home)
    assert done.returncode == 2, done.stderr
    output = (done.stdout + done.stderr).strip()
    assert output.startswith("error: ") and said in output and "\n" not in output, output


def test_a_port_in_use_is_one_line_too(taken_port: int, tmp_path: Any) -> None:
    for args in (["serve", "--home", str(tmp_path)], ["catalog", "serve"]):
        done = tunelake(*args, "--port", str(taken_port))
        output = (done.stdout + done.stderr).strip()
        assert done.returncode == 2 and "Address already in use" in output, output
        assert "\n" not in output, output


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes sock (an end of file) before `within` seconds pass."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        if select.select([sock], [], [], left)[0]:
            try:
                if sock.recv(65536) == b"":
                    return True
            except ConnectionResetError:
                return True
    return False


def test_idle_connections_are_closed() -> None:
    """Connected and silent, half a request line, or idle after an answer: all closed once
    their timeout passes; a request whose head arrives in time is answered."""
    with serve_in_thread(hello, keep_alive=1, header_timeout=1.5) as port:
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
        half = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
        for sock in half:
            sock.sendall(b"GET / HT")
        answered = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
        for sock in answered:
            sock.sendall(REQUEST)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        in_parts = socket.create_connection(("127.0.0.1", port))
        in_parts.sendall(REQUEST[:10])
        time.sleep(0.5)
        in_parts.sendall(REQUEST[10:])
        assert in_parts.recv(65536).startswith(b"HTTP/1.1 200")
        opened = [*silent, *half, *answered]
        try:
            assert sum(closed_by_server(s, within=10) for s in opened) == len(opened)
        finally:
            for sock in [*opened, in_parts]:
                sock.close()
