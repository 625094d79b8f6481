"""What can go wrong when talking to a music API, as errors whose message says what and where.

None of them ever carries a credential: messages are built from the endpoint name, the
status and the API's own message, never from request headers.
"""

from __future__ import annotations

from tunelake.errors import TransientError, TunelakeError, UserError


class SourceError(TunelakeError):
    """Base of every error raised by tunelake.sources."""


class PayloadError(SourceError):
    """A payload is not what its endpoint promises (a missing or mistyped field)."""

    def __init__(self, message: str, *, endpoint: str | None = None, field: str | None = None):
        super().__init__(message)
        self.endpoint = endpoint
        self.field = field


class ApiRefused(SourceError, UserError):
    """The API refused a request with a status that retrying does not fix (4xx but 429)."""

    def __init__(self, endpoint: str, status: int, message: str):
        super().__init__(f"{endpoint}: the API answered {status}: {message}")
        self.endpoint = endpoint
        self.status = status
        self.api_message = message


class RateLimitedError(SourceError, TransientError):
    """The API asked us to wait longer than we are configured to (`retry_after_cap`)."""

    def __init__(self, endpoint: str, retry_after: float, cap: float):
        super().__init__(
            f"{endpoint}: rate limited; the API asked to wait {retry_after:.0f} s "
            f"({retry_after / 3600:.2f} h), more than retry_after_cap={cap:.0f} s; "
            "try again later or raise retry_after_cap"
        )
        self.endpoint = endpoint
        self.retry_after = retry_after
        self.cap = cap


class RetriesExhaustedError(SourceError, TransientError):
    """Transient failures (5xx, timeouts, dropped connections, malformed JSON) outlasted the
    retry budget."""

    def __init__(self, endpoint: str, attempts: int, cause: BaseException):
        super().__init__(
            f"{endpoint}: gave up after {attempts} attempts; last cause: {describe(cause)}"
        )
        self.endpoint = endpoint
        self.attempts = attempts


class RawZoneError(SourceError, UserError):
    """Landed raw data cannot be read back (a damaged file, a record of the wrong shape)."""


class RetryableAnswer(SourceError):
    """An answer worth retrying that is not a transport error: a 5xx or a body that is not
    JSON. Raised inside the HTTP core's retry loop; callers see RetriesExhaustedError."""


def printable(text: str, limit: int = 160) -> str:
    """Text fit for a one-line message: control characters (a terminal's escape sequences
    too) become `?`, and it is cut to `limit` characters."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def describe(exc: BaseException) -> str:
    """Our own errors by their message; others (httpx's) as `TypeName: message`, or the type
    alone when the message is empty, as httpx's timeouts are."""
    text = str(exc)
    if isinstance(exc, SourceError):
        return text
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
