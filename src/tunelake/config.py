"""Settings and profiles.

Precedence, highest first: explicit overrides (CLI flags), the environment (`TUNELAKE_*`), the
secrets file (dotenv format: `TUNELAKE_SECRETS_FILE`, else `<home>/secrets.env` if present —
`tunelake services up` writes its S3 credentials there), the active profile of
`tunelake.toml`, then the embedded defaults. Secrets are `SecretStr`: they never show in a repr or a log.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tunelake.errors import ConfigError
from tunelake.input_files import input_file
from tunelake.models import DEFAULT_VECTOR_FEATURES, FeatureValues

CONFIG_FILE_ENV = "TUNELAKE_CONFIG"
PROFILE_ENV = "TUNELAKE_PROFILE"
SECRETS_FILE_ENV = "TUNELAKE_SECRETS_FILE"
DEFAULT_CONFIG_FILE = "tunelake.toml"
DEFAULT_SECRETS_FILE = "secrets.env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNELAKE_", extra="ignore", validate_default=True, frozen=True
    )

    profile: str = "local"
    home: Path = Path(".tunelake")

    # storage: URLs pick the backend; None means the embedded default under `home`.
    warehouse_url: str | None = None
    lake_url: str | None = None
    serving_url: str | None = None

    # the lake's Iceberg catalog (see tunelake.storage.lake.catalog)
    lake_catalog_url: str | None = None
    """An SQLAlchemy URL (SQL catalog), http(s):// (REST) or glue://;
    None: a SQLite file in a local lake's folder, or the warehouse database for an S3 lake."""
    lake_catalog_properties: dict[str, str] = {}
    """Extra pyiceberg catalog properties (JSON), e.g. a REST catalog's credential."""
    lake_namespace: str = Field("tunelake", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    lake_snapshot_retention_days: float = Field(7.0, ge=0)
    """Lake snapshots older than this are expired after each run (the newest is always kept)."""

    # S3-compatible object store for an s3:// lake
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None

    # sources
    source: str = "catalog"
    """catalog (the built-in catalog server), spotify, or file:PATH (a dataset dump)."""
    spotify_client_id: SecretStr | None = None
    spotify_client_secret: SecretStr | None = None
    spotify_accounts_url: str = "https://accounts.spotify.com"
    spotify_api_url: str = "https://api.spotify.com/v1"
    reccobeats_url: str = "https://api.reccobeats.com/v1"
    market: str = "US"
    concurrency: int = Field(16, ge=1)
    request_timeout: float = Field(10.0, gt=0)
    max_retries: int = Field(6, ge=0)
    retry_after_cap: float = Field(120.0, ge=0)
    """Longest Retry-After the client waits out; past it the run fails with a clear error."""
    requests_per_second: float | None = Field(None, gt=0)
    """Client-side pacing; None paces only by the server's 429s."""

    # the built-in catalog server
    catalog_seed: int = 42
    catalog_artists: int = Field(1000, ge=1)
    catalog_profile: Literal["extended", "development"] = "extended"
    catalog_latency_ms: float = Field(0.0, ge=0)
    """Latency the built-in server adds to every call, to behave like a remote API."""

    # listening events (tunelake.events)
    events_url: str | None = None
    """nats://… (NATS JetStream) or redis://… (Redis Streams); None: the embedded nats-server
    with its JetStream store under `<home>/events/nats`."""
    events_stream: str = Field("tunelake_plays", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    events_per_message: int = Field(100, ge=1)
    """Events a producer puts in one broker message (JSON lines)."""
    events_batch_events: int = Field(40_000, ge=1)
    """Most events one consumer micro-batch commits (bounds the consumer's memory)."""
    events_batch_seconds: float = Field(1.0, gt=0)
    """Longest a consumer waits to fill a micro-batch before it commits what it has."""
    events_retention_hours: float = Field(168.0, gt=0)
    """How long the broker keeps messages (a consumer stopped longer loses the oldest)."""
    events_dedup_days: int = Field(3, ge=1)
    """Event-time days whose event ids a consumer holds in memory to drop duplicates."""

    # pipeline
    seeds_file: Path | None = None
    extract_chunk: int = Field(200, ge=1)
    """Artists fetched between two landings of the raw zone (each one a resume point)."""
    similarity_k: int = Field(10, ge=1)
    vector_features: tuple[str, ...] = DEFAULT_VECTOR_FEATURES
    max_reject_fraction: float = Field(0.05, ge=0, le=1)
    similarity_engine: Literal["numpy", "spark"] = "numpy"
    """numpy (in-process) or spark (the spark extra)."""
    similarity_method: Literal["audio", "listening", "hybrid"] | None = None
    """The neighbours the serving documents' related_artists hold (every method's are in
    related_by): audio (mean audio features), listening (co-listening in plays) or hybrid;
    unset: hybrid when the lake holds plays, else audio."""
    recommend_days: int = Field(30, ge=1, le=366)
    """Plays of the last this many days feed listening similarity and recommendations."""
    spark_master: str | None = None
    """Spark master URL for the spark engine; None: spark-submit's or spark-defaults.conf's,
    else local[*]."""

    # the automation (`tunelake orchestrate`)
    dagster_postgres_url: SecretStr | None = None
    """PostgreSQL URL (postgresql://user@host:5432/db) of Dagster's instance storage: runs,
    event log, schedules and sensors; None: SQLite files in `<home>/dagster/`."""

    @field_validator("vector_features")
    @classmethod
    def _known_features(cls, features: tuple[str, ...]) -> tuple[str, ...]:
        """Checked before any work: an unknown name would otherwise fail only at transform,
        after all the fetching."""
        numeric = [
            name
            for name, info in FeatureValues.model_fields.items()
            if info.annotation in (float | None, int | None)
        ]
        unknown = [f for f in features if f not in numeric]
        if unknown or not features or len(set(features)) != len(features):
            raise ValueError(
                f"vector_features {list(features)} must be distinct names among {numeric}"
                + (f"; unknown: {unknown}" if unknown else "")
            )
        return features

    # listening (tunelake.listening): the trending rule of tunelake.engines.listening
    trending_window_minutes: int = Field(60, ge=1)
    """An artist trends on its plays in this last window ..."""
    trending_baseline_hours: float = Field(168.0, gt=0)
    """... against its usual plays per window over this long before it."""
    trending_min_plays: int = Field(10, ge=1)
    """Fewer plays than this in the window never trend."""
    trending_top: int = Field(20, ge=1, le=100)
    """How many trending artists are published."""

    # the service (`tunelake serve`)
    api_token: SecretStr | None = None
    """Bearer token the write endpoints ask for; none set: they refuse every caller."""
    api_public_reads: bool = True
    """Read endpoints answer anyone; False: they ask for the token too."""
    api_cors_origins: tuple[str, ...] = ()
    """Origins a browser may call the API from (CORS); none by default."""
    public_base_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """The service's address as the outside world reaches it (links in chatbot cards);
    None: the address the request came in on."""
    chat_ingests: Literal["off", "queue", "review"] = "review"
    """What the chatbot does with an artist it does not know: nothing, queue an ingest
    request, or queue one that waits for approval (`POST /ingest-requests/{id}/approval`)."""
    chat_ingests_per_user: int = Field(3, ge=0)
    """Chat-initiated ingest requests one chat user may queue per hour."""
    chat_ingests_per_hour: int = Field(30, ge=0)
    """Chat-initiated ingest requests all users together may queue per hour."""

    @field_validator("api_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, token: object) -> object:
        """`TUNELAKE_API_TOKEN=""` is no token (every write refused), not the empty token."""
        if isinstance(token, str) and not token.strip():
            return None
        if isinstance(token, SecretStr) and not token.get_secret_value().strip():
            return None
        return token

    # derived locations -------------------------------------------------------------------
    @property
    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"sqlite:///{(self.home / 'warehouse.db').resolve()}"

    @property
    def resolved_lake_url(self) -> str:
        return self.lake_url or str((self.home / "lake").resolve())

    @property
    def resolved_lake_catalog_url(self) -> str:
        if self.lake_catalog_url:
            return self.lake_catalog_url
        lake = self.resolved_lake_url
        if "://" in lake and not lake.startswith("file://"):
            return self.resolved_warehouse_url
        return (
            f"sqlite:///{Path(lake.removeprefix('file://')).expanduser().resolve() / 'catalog.db'}"
        )

    @property
    def resolved_serving_url(self) -> str:
        return self.serving_url or f"sqlite:///{(self.home / 'serving.db').resolve()}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
            _ProfileSource(settings_cls),
        )


class _ProfileSource(PydanticBaseSettingsSource):
    """The active profile's table from tunelake.toml (`[profiles.<name>]`)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _profile_values(_active_profile(self.current_state))


def _config_path() -> Path | None:
    explicit = os.environ.get(CONFIG_FILE_ENV)
    if explicit:
        return input_file(Path(explicit), CONFIG_FILE_ENV, ConfigError)
    path = Path(DEFAULT_CONFIG_FILE)
    return path if path.is_file() else None


def config_file() -> Path | None:
    """The tunelake.toml in use (absolute), or None."""
    path = _config_path()
    return None if path is None else path.resolve()


def _active_profile(state: dict[str, Any]) -> str:
    return str(state.get("profile") or os.environ.get(PROFILE_ENV) or "local")


def profiles() -> dict[str, dict[str, Any]]:
    """Every profile tunelake.toml defines, by name."""
    path = _config_path()
    if path is None:
        return {}
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror}") from None
    table = data.get("profiles", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [profiles] must be a table of tables")
    for name, profile in table.items():
        if not isinstance(profile, dict):
            raise ConfigError(
                f"{path}: profiles.{name} must be a table ([profiles.{name}] with one "
                "setting a line), not a single value"
            )
    return table


def _profile_values(name: str) -> dict[str, Any]:
    known = profiles()
    if name in known:
        return dict(known[name])
    if name == "local":  # the embedded defaults need no file
        return {}
    listed = ", ".join(sorted(known)) or "none (no tunelake.toml here)"
    raise ConfigError(f"profile {name!r} is not defined; profiles: {listed}")


def _problem(error: ErrorDetails, given: dict[str, Any], secrets: str | None) -> str:
    """One invalid value, named where it was set: the option, the environment variable, the
    secrets file or tunelake.toml's profile (file and key); its value unless secret."""
    field = str(error["loc"][0]) if error["loc"] else ""
    where = ".".join(map(str, error["loc"])) or "settings"
    env = f"TUNELAKE_{field.upper()}"
    if field in given:
        pass
    elif env in {k.upper() for k in os.environ}:
        where = f"{where} ({env})"
    elif secrets and env in {k.upper() for k in dotenv_values(secrets)}:
        where = f"{where} ({env} in {secrets})"
    else:
        profile = _active_profile(given)
        path = config_file()
        if path is not None and field in profiles().get(profile, {}):
            where = f"{where} ([profiles.{profile}] of {path})"
    info = Settings.model_fields.get(field)
    secret = info is not None and "SecretStr" in str(info.annotation)
    shown = "" if secret or "input" not in error else f" (got {error['input']!r})"
    return f"{where}: {error['msg']}{shown}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from every source; `overrides` (CLI flags) win. None values are ignored."""
    given = {k: v for k, v in overrides.items() if v is not None}
    secrets = os.environ.get(SECRETS_FILE_ENV)
    if secrets:
        input_file(Path(secrets), SECRETS_FILE_ENV, ConfigError)
    if not secrets:
        home = Path(
            given.get("home")
            or os.environ.get("TUNELAKE_HOME")
            or Settings.model_fields["home"].default
        )
        default = home / DEFAULT_SECRETS_FILE
        secrets = str(default) if default.is_file() else None
    try:
        return Settings(_env_file=secrets, **given)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(_problem(e, given, secrets) for e in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from exc
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from exc
