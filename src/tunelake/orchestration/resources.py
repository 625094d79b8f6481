"""What the Dagster definitions need from tunelake's configuration.

- `TunelakeResource`: the data directory and profile a run works on. Everything else
  (backends, source, catalog size, …) comes from tunelake's own settings — flags given to
  `tunelake orchestrate`, `TUNELAKE_*` variables, the secrets file, the profile — so a change
  of backend needs no change here.
- `Automation`: the orchestration's own settings (schedule, alert webhook, first partition),
  read the same way: `TUNELAKE_*` variables, then the active profile of tunelake.toml.
- `TunelakeResource.run_stage`: how every asset runs its stage — one call to the stage runner
  (which opens the stores, holds the locks, records the run and keeps the current-state
  rule), and a failure told apart: transient ones are retried, the others fail at once.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import SecretStr

from tunelake import app as use_cases
from tunelake.config import SECRETS_FILE_ENV, Settings, load_settings
from tunelake.errors import is_transient
from tunelake.observability import StepRecord, configure_logging, one_line
from tunelake.pipeline.run import RunResult, StageOptions


class Automation(Settings):
    """tunelake's settings plus the orchestration's own (schedule, alerts, partitions), read
    from the same places: `TUNELAKE_…` variables, the secrets file, the active profile."""

    schedule_cron: str = "0 3 * * *"
    schedule_timezone: str = "UTC"
    partitions_start: date = date(2026, 1, 1)
    """The first dt the daily partitions offer (backfills reach back to it)."""
    alert_webhook_url: SecretStr | None = None
    """Where alerts are posted (Slack-compatible JSON); a webhook URL carries its token."""
    freshness_hours: float = 30.0
    """How old the newest partition may be before its freshness check fails."""
    webserver_url: str = "http://127.0.0.1:3000"
    """Where the Dagster UI answers: the base of the run links in alerts."""
    outbox_interval_s: int = 30
    """How often the daemon looks at the ingest-request outbox."""
    events_max_lag_s: float = 300.0
    """The `plays_health` sensor alerts when the oldest event not in `plays` is older."""
    plays_max_age_minutes: float = 60.0
    """... or when the last commit to `plays` is older than this."""
    events_check_interval_s: int = 60
    """How often the `plays_health` sensor looks."""
    trending_cron: str = "*/5 * * * *"
    """When the trending artists are recomputed and published (in UTC)."""


def automation() -> Automation:
    return Automation(_env_file=os.environ.get(SECRETS_FILE_ENV))  # type: ignore[call-arg]


class TunelakeResource(dg.ConfigurableResource):
    """tunelake's settings for a run: home and profile here, the rest from its configuration."""

    home: str | None = None
    profile: str | None = None

    def settings(self) -> Settings:
        return load_settings(home=self.home, profile=self.profile)

    def run_stage(
        self,
        context: dg.AssetExecutionContext,
        stage: str,
        **options: Any,
    ) -> RunResult:
        """One stage of the partition's dt through the stage runner (tunelake.app), recorded
        as a tunelake run of kind `dagster`. In Dagster the reject limit is the blocking check
        `rejects_fraction`: the partition and its quarantine are written and can be
        inspected, and the check stops what is downstream. A transient failure is raised as
        is, for the asset's retry policy; any other fails the asset without a retry."""
        holder = f"dagster run {context.run.run_id} ({context.op_def.name})"
        chosen = StageOptions(
            kind="dagster",
            include_pending=False,  # the outbox sensor passes the pending queries itself
            reject_limit=False,
            report=False,
            holder=holder,
            **options,
        )
        try:
            return use_cases.run_stages(self.settings(), partition_dt(context), [stage], chosen)
        except Exception as exc:
            raise as_failure(context, exc)  # noqa: B904 (as_failure chains it)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # steps, sensors and alerts log where `tunelake run` logs: <home>/logs/tunelake.jsonl
        configure_logging(self.settings().logs_dir)


def today(timezone: str) -> date:
    """Today's dt in the schedule's timezone: the partition a run for "now" works on."""
    return datetime.now(ZoneInfo(timezone)).date()


def partition_dt(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def as_failure(context: dg.AssetExecutionContext, exc: Exception) -> Exception:
    """What an asset raises for exc: a transient failure (the error root says which) as it
    is, for the asset's retry policy; any other as a Failure with its one line, not retried."""
    if is_transient(exc):
        context.log.warning(f"transient failure, to be retried: {one_line(exc)}")
        return exc
    failure = dg.Failure(description=one_line(exc), allow_retries=False)
    failure.__cause__ = exc
    return failure


def metadata_of(step: StepRecord) -> dict[str, Any]:
    """A step record's counts as asset metadata."""
    return {
        "rows_in": step.rows_in,
        "rows_out": step.rows_out,
        "rows_quarantined": step.rows_quarantined,
        **{k: v for k, v in step.details.items() if isinstance(v, int | float | str | bool)},
    }
