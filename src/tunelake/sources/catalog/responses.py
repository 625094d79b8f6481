"""How answers leave the server: JSON bodies, the Web API's error shape, and broken answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

JSON_TYPE = "application/json; charset=utf-8"


def render(payload: Any) -> bytes:
    # orjson: a top-tracks answer takes 70 us against 1.2 ms with json.dumps (same bytes)
    return orjson.dumps(payload)


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(render(payload), status, headers, media_type=JSON_TYPE)


class ErrorAnswer(Exception):
    """An error answer in the Web API's shape: {"error": {"status", "message"}}."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {"error": {"status": self.status, "message": self.message}}
        return json_response(body, self.status, self.headers)


def truncated(response: Response) -> Response:
    """The same answer, status and all, with its JSON cut in half: a malformed body."""
    body = bytes(response.body)
    return Response(body[: len(body) // 2], response.status_code, media_type=JSON_TYPE)


class Dropped(Response):
    """Sends the headers (with the full Content-Length) and half the body, then returns without
    finishing: uvicorn closes the connection and the client sees an incomplete response."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        half = bytes(self.body)[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})


def dropped(response: Response) -> Response:
    return Dropped(bytes(response.body), response.status_code, headers=dict(response.headers))
