"""The one async HTTP core every music-API call goes through.

- a timeout on every call (httpx), bounded concurrency (a semaphore of `concurrency` slots);
- retries with exponential backoff and full jitter (tenacity) on 5xx, timeouts, dropped
  connections and malformed JSON; after the last one a RetriesExhaustedError names the
  endpoint and the last cause;
- 429: the `Retry-After` pauses every request to that origin, not just the one that got it,
  so the workers do not keep hammering a server that asked for quiet; a wait beyond
  `retry_after_cap` fails at once with RateLimitedError (Spotify hands out multi-hour bans);
- other 4xx: ApiRefused at once, with the status and the API's message;
- optional client-side pacing (`requests_per_second`, a leaky bucket per origin) so a known
  server rate is never exceeded in the first place;
- 401 with a bearer token: the token is refreshed once and the request sent again.

Credentials travel only in headers, which are never logged nor put in errors; the request
line logged and recorded is the path and query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
import structlog
from aiolimiter import AsyncLimiter
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from tunelake.sources.errors import (
    ApiRefused,
    RateLimitedError,
    RetriesExhaustedError,
    RetryableAnswer,
    describe,
)
from tunelake.sources.raw_responses import RawResponse, utc_now

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: Used when a 429 carries no usable Retry-After.
DEFAULT_RETRY_AFTER = 1.0


class BearerToken(Protocol):
    """Where the core gets the token for `Authorization: Bearer` (see auth.py)."""

    async def token(self) -> SecretStr: ...

    async def refresh(self, stale: SecretStr) -> None:
        """Replace `stale`, which the API refused (unless another caller already did)."""


class Throttle:
    """What every request to one origin shares: the pause a 429 imposes and the pace."""

    def __init__(self, requests_per_second: float | None):
        self._resume_at = 0.0
        # one request per 1/rate seconds, no burst: a burst would overrun a rolling window
        self._pace = AsyncLimiter(1, 1 / requests_per_second) if requests_per_second else None

    def pause(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    async def wait(self) -> None:
        while True:
            delay = self._resume_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            if self._pace is not None:
                await self._pace.acquire()
            # a 429 may have arrived while this request waited for its turn
            if self._resume_at <= time.monotonic():
                return


async def gather(*calls: Awaitable[T]) -> list[T]:
    """The results of concurrent calls, in order. Unlike asyncio.gather, the first failure
    cancels the calls still running before it is raised: no request outlives its caller."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _retry_after(response: httpx.Response) -> float:
    """Seconds from Retry-After: delta-seconds or an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def api_message(response: httpx.Response) -> str:
    """The API's own words: Web API `{"error": {"status", "message"}}`, OAuth
    `{"error", "error_description"}`, or the reason phrase when the body says nothing."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return response.reason_phrase or "no message"
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        description = body.get("error_description")
        return f"{error}: {description}" if description else error
    return response.reason_phrase or "no message"


def request_line(request: httpx.Request) -> str:
    """Path and query of a request: what is logged and recorded, never its headers."""
    return request.url.raw_path.decode("ascii")


def _is_transient(exc: BaseException) -> bool:
    return isinstance(
        exc,
        RetryableAnswer | httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError,
    )


class HttpCore:
    def __init__(
        self,
        *,
        concurrency: int = 16,
        request_timeout: float = 10.0,
        max_retries: int = 6,
        retry_after_cap: float = 120.0,
        requests_per_second: float | None = None,
        backoff_base: float = 0.2,
        backoff_max: float = 10.0,
        on_response: Callable[[RawResponse], None] | None = None,
    ):
        _check(concurrency >= 1, f"concurrency must be at least 1, not {concurrency}")
        _check(request_timeout > 0, f"request_timeout must be positive, not {request_timeout}")
        _check(max_retries >= 0, f"max_retries must be 0 or more, not {max_retries}")
        _check(retry_after_cap >= 0, f"retry_after_cap must be 0 or more, not {retry_after_cap}")
        _check(
            requests_per_second is None or requests_per_second > 0,
            f"requests_per_second must be positive or None, not {requests_per_second}",
        )
        self._max_retries = max_retries
        self._retry_after_cap = retry_after_cap
        self._requests_per_second = requests_per_second
        self._backoff = wait_random_exponential(multiplier=backoff_base, max=backoff_max)
        self._on_response = on_response
        self._slots = asyncio.Semaphore(concurrency)
        self._throttles: dict[str, Throttle] = {}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(request_timeout),
            # a connection more than slots, for the token endpoint (outside the slots)
            limits=httpx.Limits(
                max_connections=concurrency + 1, max_keepalive_connections=concurrency + 1
            ),
            headers={"Accept": "application/json"},
        )
        self.requests = 0
        """Requests sent, retries and 429s included (for benchmarks and run records)."""
        self.throttled = 0
        """429s received."""

    def __repr__(self) -> str:
        return f"HttpCore(requests={self.requests}, throttled={self.throttled})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(
        self,
        endpoint: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        bearer: BearerToken | None = None,
    ) -> RawResponse:
        """GET a JSON document; the response is handed to `on_response` before it is returned."""
        response, body = await self._call(
            endpoint, "GET", url, bounded=True, params=params, bearer=bearer
        )
        raw = RawResponse(
            endpoint=endpoint,
            request=request_line(response.request),
            status=response.status_code,
            fetched_at=utc_now(),
            body=body,
        )
        if self._on_response is not None:
            self._on_response(raw)
        return raw

    async def post_form(
        self, endpoint: str, url: str, *, data: dict[str, str], auth: httpx.Auth
    ) -> Any:
        """POST a form and return the JSON answer, for the token endpoint: outside the
        concurrency slots (a refresh happens while every slot may be held by a request waiting
        for it), and not handed to `on_response` (it holds a credential)."""
        _, body = await self._call(endpoint, "POST", url, bounded=False, data=data, auth=auth)
        return body

    async def _call(
        self,
        endpoint: str,
        method: str,
        url: str,
        *,
        bounded: bool,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
        bearer: BearerToken | None = None,
    ) -> tuple[httpx.Response, Any]:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self._max_retries + 1),
            wait=self._backoff,
            before_sleep=lambda state: _log_retry(endpoint, url, state),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._send(
                        endpoint,
                        method,
                        url,
                        bounded=bounded,
                        params=params,
                        data=data,
                        auth=auth,
                        bearer=bearer,
                    )
                    return response, _decode(endpoint, response)
        except RetryError as exc:
            last = exc.last_attempt
            cause = last.exception()
            assert cause is not None  # tenacity only gives up on a failed attempt
            log.error(
                "request failed",
                endpoint=endpoint,
                attempts=last.attempt_number,
                cause=describe(cause),
            )
            raise RetriesExhaustedError(endpoint, last.attempt_number, cause) from cause
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _send(
        self,
        endpoint: str,
        method: str,
        url: str,
        *,
        bounded: bool,
        params: dict[str, Any] | None,
        data: dict[str, str] | None,
        auth: httpx.Auth | None,
        bearer: BearerToken | None,
    ) -> httpx.Response:
        """One attempt: sent again after each 429 (once the pause is over) and once after a
        401 with a fresh token; raises for 5xx (transient) and other 4xx (final)."""
        throttle = self._throttle(url)
        refreshed = False
        asked_to_wait = 0.0
        while True:
            async with self._slots if bounded else contextlib.nullcontext():
                await throttle.wait()
                # taken last, so a token never waits out a pause before it is used
                token = await bearer.token() if bearer else None
                headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else None
                self.requests += 1
                response = await self._client.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    headers=headers,
                )
            status = response.status_code
            if status == 429:
                self.throttled += 1
                retry_after = _retry_after(response)
                asked_to_wait += retry_after
                if asked_to_wait > self._retry_after_cap:
                    raise RateLimitedError(endpoint, asked_to_wait, self._retry_after_cap)
                throttle.pause(retry_after)
                log.info(
                    "rate limited: pausing requests",
                    endpoint=endpoint,
                    request=request_line(response.request),
                    retry_after=retry_after,
                )
                continue
            if status == 401 and bearer and token and not refreshed:
                await bearer.refresh(token)
                refreshed = True
                continue
            if status >= 500:
                raise RetryableAnswer(f"{endpoint}: server error {status}: {api_message(response)}")
            if status >= 400:
                raise ApiRefused(endpoint, status, api_message(response))
            return response

    def _throttle(self, url: str) -> Throttle:
        origin = urlsplit(url).netloc
        if origin not in self._throttles:
            self._throttles[origin] = Throttle(self._requests_per_second)
        return self._throttles[origin]


def _decode(endpoint: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RetryableAnswer(
            f"{endpoint}: malformed JSON in a {response.status_code} answer "
            f"({len(response.content)} bytes): {exc}"
        ) from exc


def _log_retry(endpoint: str, url: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "retrying",
        endpoint=endpoint,
        path=urlsplit(url).path,
        attempt=state.attempt_number,
        wait=round(state.upcoming_sleep, 3),
        cause=describe(exc) if exc else None,
    )


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
