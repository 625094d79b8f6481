"""Alerts: one JSON post to a webhook (Slack-compatible: the message is its `text` field),
and the same line in the log.

An alert says what failed, for which dt, the one-line cause and a link to the run. It is
built from error messages, which may quote a URL or a credential: every secret of the
settings, any password in a URL and any Authorization value are masked before it leaves,
and the webhook's own URL (which carries its token) is never written anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import structlog
from pydantic import SecretStr

from tunelake.config import Settings
from tunelake.orchestration.resources import Automation
from tunelake.redact import MASK, mask_urls_in

_CREDENTIAL = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
log = structlog.get_logger("tunelake.alerts")


@dataclass(frozen=True)
class Alert:
    what: str
    """What failed: a run and its steps, or a check of an asset."""
    dt: str | None
    cause: str
    run_url: str | None

    def text(self) -> str:
        parts = [f":rotating_light: tunelake: {self.what} failed"]
        if self.dt:
            parts.append(f"for dt {self.dt}")
        line = " ".join(parts) + f": {self.cause}"
        return f"{line} ({self.run_url})" if self.run_url else line


def _secrets(*configs: Settings | Automation) -> list[str]:
    values = []
    for config in configs:
        for name in type(config).model_fields:
            value = getattr(config, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
    return sorted(values, key=len, reverse=True)  # a secret containing another goes first


def redact(text: str, *configs: Settings | Automation) -> str:
    """text with the configurations' secrets, URL passwords and credentials masked."""
    for secret in _secrets(*configs):
        text = text.replace(secret, MASK)
    text = mask_urls_in(text)
    return _CREDENTIAL.sub(rf"\1 {MASK}", text)


def first_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


def send_alert(alert: Alert, settings: Settings, config: Automation) -> dict[str, str]:
    """Log the alert and post it to the configured webhook; returns the payload sent."""
    cleaned = Alert(
        what=redact(alert.what, settings, config),
        dt=alert.dt,
        cause=redact(first_line(alert.cause), settings, config),
        run_url=alert.run_url,
    )
    payload = {"text": cleaned.text()}
    log.error("alert", text=payload["text"], dt=cleaned.dt)
    if config.alert_webhook_url is None:
        return payload
    try:
        answer = httpx.post(
            config.alert_webhook_url.get_secret_value(),
            json=payload,
            timeout=settings.request_timeout,
        )
        answer.raise_for_status()
    except httpx.HTTPError as exc:  # the alert is logged already; say the webhook failed
        log.error("alert not delivered", error=type(exc).__name__)
    return payload
