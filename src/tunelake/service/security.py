"""Who may call what: write endpoints need the bearer token of the configuration
(`TUNELAKE_API_TOKEN`), and with none configured they refuse every caller; read endpoints are
public unless `TUNELAKE_API_PUBLIC_READS=false`. Tokens are compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tunelake.config import Settings

# auto_error=False: a missing token is answered by our own 401 problem, not FastAPI's 403
bearer = HTTPBearer(auto_error=False, description="TUNELAKE_API_TOKEN")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

# Coroutines: FastAPI runs a plain-function dependency on its thread pool, a hop per request
# that a check which does no I/O does not need.
Guard = Callable[..., Awaitable[None]]


def _require_token(settings: Settings) -> Guard:
    expected = settings.api_token

    async def check(credentials: Credentials) -> None:
        if expected is None:
            raise HTTPException(
                401, "this endpoint is disabled: the server has no API token", _CHALLENGE
            )
        given = b"" if credentials is None else credentials.credentials.encode()
        if not hmac.compare_digest(given, expected.get_secret_value().encode()):
            raise HTTPException(401, "a valid bearer token is required", _CHALLENGE)

    return check


async def _anyone() -> None:
    return None


def guards(settings: Settings) -> tuple[Guard, Guard]:
    """The checks of (read endpoints, write endpoints)."""
    write = _require_token(settings)
    return (_anyone if settings.api_public_reads else write), write
