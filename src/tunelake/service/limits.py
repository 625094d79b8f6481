"""The request-body limit, checked before any route reads the body: a declared length over it
is refused at once, and a body sent without one (chunked) is read no further than the limit.

Not FastAPI's own `max_body_size`: Starlette's limiter answers 413 in plain text, replacing
whatever the app says, and every error of this API is a problem document."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunelake.service.problems import problem

MAX_BODY_BYTES = 16 * 1024
"""A skill payload from Kakao is a few kilobytes; an ingest request, a few bytes."""


class LimitBody:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        # Read the whole (small) body here, then replay it to the app.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, f"a request body may hold at most {self.max_bytes} bytes")
        await response(scope, receive, send)
