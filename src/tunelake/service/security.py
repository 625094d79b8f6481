"""Who may call what: write endpoints need the bearer token of the configuration
(`TUNELAKE_API_TOKEN`), and with none configured they refuse every caller; read endpoints are
public unless `TUNELAKE_API_PUBLIC_READS=false`. Tokens are compared in constant time.

A write is authenticated before its body is read: a caller without the token learns nothing
about what the endpoint accepts (a malformed body gets 401, not 400)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tunelake.config import Settings

# auto_error=False: a missing token is answered by our own 401 problem, not FastAPI's 403
bearer = HTTPBearer(auto_error=False, description="TUNELAKE_API_TOKEN")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

# Coroutines: FastAPI runs a plain-function dependency on its thread pool, a hop per request
# that a check which does no I/O does not need.
Guard = Callable[..., Awaitable[None]]


def _token_matches(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> bool:
    expected = settings.api_token
    if expected is None or credentials is None:
        return False
    return hmac.compare_digest(
        credentials.credentials.encode(), expected.get_secret_value().encode()
    )


def _require_token(settings: Settings) -> Guard:
    async def check(credentials: Credentials) -> None:
        if settings.api_token is None:
            raise HTTPException(
                401, "this endpoint is disabled: the server has no API token", _CHALLENGE
            )
        if not _token_matches(settings, credentials):
            raise HTTPException(401, "a valid bearer token is required", _CHALLENGE)

    return check


async def _holds_token(request: Request) -> bool:
    # bearer called, not depended on: the OpenAPI document would say the token is required
    return _token_matches(request.app.state.service.settings, await bearer(request))


Authenticated = Annotated[bool, Depends(_holds_token)]
"""Whether the caller holds the token: a read shows such a caller more."""


def authenticating_first(guard: Guard) -> type[APIRoute]:
    """A route class whose requests pass `guard` before FastAPI reads and validates their
    body (it runs the route's dependencies only after that)."""

    class AuthenticatingFirst(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def checked(request: Request) -> Response:
                await guard(await bearer(request))
                return await handle(request)

            return checked

    return AuthenticatingFirst


async def _anyone() -> None:
    return None


def guards(settings: Settings) -> tuple[Guard, Guard]:
    """The checks of (read endpoints, write endpoints)."""
    write = _require_token(settings)
    return (_anyone if settings.api_public_reads else write), write
