"""Spotify's client-credentials flow: a cached app token, refreshed shortly before it expires
and when the API says it has (a 401), with one refresh in flight at a time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from pydantic import SecretStr

from tunelake.sources.errors import PayloadError
from tunelake.sources.http import HttpCore

#: Refresh this long before expiry at most; short-lived tokens at half their lifetime, so a
#: request sent with one still has that long to reach the API.
REFRESH_MARGIN = 60.0


class ClientCredentials:
    def __init__(
        self, core: HttpCore, token_url: str, client_id: SecretStr, client_secret: SecretStr
    ):
        self._core = core
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: SecretStr | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ClientCredentials(token_url={self._token_url!r})"

    def _due(self) -> bool:
        return self._token is None or time.monotonic() >= self._refresh_at

    async def token(self) -> SecretStr:
        if self._due():
            async with self._lock:
                if self._due():  # unless the caller before us in the queue fetched one
                    await self._fetch()
        assert self._token is not None
        return self._token

    async def refresh(self, stale: SecretStr) -> None:
        async with self._lock:
            # SecretStr compares by value; a different token means another caller refreshed
            if self._due() or self._token == stale:
                await self._fetch()

    async def _fetch(self) -> None:
        auth = httpx.BasicAuth(
            self._client_id.get_secret_value(), self._client_secret.get_secret_value()
        )
        body = await self._core.post_form(
            "token", self._token_url, data={"grant_type": "client_credentials"}, auth=auth
        )
        token, lifetime = parse_token(body)
        self._token = token
        self._refresh_at = time.monotonic() + lifetime - min(REFRESH_MARGIN, lifetime / 2)


def parse_token(body: Any) -> tuple[SecretStr, float]:
    if not isinstance(body, dict):
        raise PayloadError("token payload is not a JSON object", endpoint="token", field="(body)")
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise PayloadError(
            "token payload has no access_token", endpoint="token", field="access_token"
        )
    lifetime = body.get("expires_in")
    if not isinstance(lifetime, int | float) or lifetime <= 0:
        # never echo the body: it holds the token
        raise PayloadError(
            "token payload has no positive expires_in", endpoint="token", field="expires_in"
        )
    return SecretStr(token), float(lifetime)
