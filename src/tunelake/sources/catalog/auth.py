"""The client-credentials flow: who may have a token, and whether a token is still good."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Callable, Mapping

from pydantic import SecretStr

EXPIRED = "The access token expired"
INVALID = "Invalid access token"
MISSING = "No token provided"
#: How long an expired token is still recognised (and answered "expired", not "invalid").
REMEMBER_EXPIRED = 86_400.0


def client_from_request(
    authorization: str | None, form: Mapping[str, str]
) -> tuple[str, str] | None:
    """(client_id, client_secret) from a Basic header, or from the form as Spotify allows."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, client_secret = decoded.partition(":")
        return (client_id, client_secret) if sep else None
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    return None


class Tokens:
    """Issues opaque bearer tokens that expire after `ttl` seconds."""

    def __init__(
        self,
        client_id: str,
        client_secret: SecretStr,
        ttl: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self.ttl = ttl
        self._clock = clock
        self._expiry: dict[str, float] = {}

    def accepts(self, client_id: str, client_secret: str) -> bool:
        expected = f"{self._client_id}\0{self._client_secret.get_secret_value()}".encode()
        return hmac.compare_digest(expected, f"{client_id}\0{client_secret}".encode())

    def issue(self) -> str:
        now = self._clock()
        # forget long-expired tokens so a client that re-authenticates often cannot grow this
        self._expiry = {t: e for t, e in self._expiry.items() if e > now - REMEMBER_EXPIRED}
        token = secrets.token_urlsafe(48)
        self._expiry[token] = now + self.ttl
        return token

    def problem(self, authorization: str | None) -> str | None:
        """Why the Authorization header does not grant access, or None when it does."""
        if not authorization:
            return MISSING
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return INVALID
        expiry = self._expiry.get(token.strip())
        if expiry is None:
            return INVALID
        return EXPIRED if self._clock() >= expiry else None
