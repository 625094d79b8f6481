"""What a catalog server serves and how badly it behaves: the options of one server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class FaultOptions(BaseModel):
    """Injected faults. Every decision is reproducible from `seed` and the request's arrival
    order, so a failing client run can be replayed exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    error_5xx: Fraction = 0.0
    """Fraction of API requests answered 500/502/503."""
    burst_429: Fraction = 0.0
    """Fraction of API requests that start a burst of 429s (with Retry-After)."""
    burst_length: int = Field(default=5, ge=1)
    """Requests answered 429 in one burst, the starting one included."""
    burst_retry_after: float = Field(default=1.0, ge=0.0)
    """Seconds sent in Retry-After during a burst (a fraction such as 0.2 is sent as is)."""
    latency_ms: float = Field(default=0.0, ge=0.0)
    """Latency added to every API call."""
    jitter_ms: float = Field(default=0.0, ge=0.0)
    """Extra latency, uniform in [0, jitter_ms), added to every API call."""
    drop: Fraction = 0.0
    """Fraction of responses whose connection is closed after the headers and half the body."""
    malformed: Fraction = 0.0
    """Fraction of successful responses sent (status 200) with truncated JSON."""


class CatalogOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 42
    n_artists: int = Field(default=1000, ge=1)
    profile: Literal["extended", "development"] = "extended"
    """extended: the full pre-2024 Web API; development: Spotify's 2026 development mode."""
    client_id: str = "tunelake"
    """The client id the token endpoint accepts (a documented default, not a secret)."""
    client_secret: SecretStr = SecretStr("tunelake-secret")
    token_ttl: int = Field(default=3600, ge=1)
    """Seconds a token stays valid."""
    rate_limit: int | None = Field(default=None, ge=1)
    """Most API requests served per rolling window; None serves without limit."""
    rate_window: float = Field(default=30.0, gt=0.0)
    """Seconds of the rolling rate-limit window."""
    faults: FaultOptions = FaultOptions()
