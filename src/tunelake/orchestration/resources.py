"""What the Dagster definitions need from tunelake's configuration.

- `TunelakeResource`: the data directory and profile a run works on. Everything else
  (backends, source, catalog size, …) comes from tunelake's own settings — flags given to
  `tunelake orchestrate`, `TUNELAKE_*` variables, the secrets file, the profile — so a change
  of backend needs no change here.
- `Automation`: the orchestration's own settings (schedule, alert webhook, first partition),
  read the same way: `TUNELAKE_*` variables, then the active profile of tunelake.toml.
- `asset_step`: how every asset runs a pipeline step — the stores opened, the dt's lock held,
  the step recorded as a tunelake run, and a failure told apart: transient ones are retried,
  the others fail at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import SecretStr

from tunelake.config import SECRETS_FILE_ENV, Settings, load_settings
from tunelake.errors import is_transient
from tunelake.observability import RunRecorder, StepRecord, configure_logging, one_line
from tunelake.pipeline.lock import dt_lock, home_lock
from tunelake.pipeline.resources import Resources, open_resources


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

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # steps, sensors and alerts log where `tunelake run` logs: <home>/logs/tunelake.jsonl
        configure_logging(self.settings().logs_dir)


@dataclass
class AssetStep:
    """What an asset's body works with: the stores, the dt, and the run record."""

    res: Resources
    dt: date
    recorder: RunRecorder

    @property
    def current(self) -> bool:
        """Whether dt is the newest curated dt: only then does it replace the warehouse's and
        the serving store's current state (as a backfill of an older dt leaves them alone)."""
        return self.dt >= max(self.res.lake.partitions("artists"), default=self.dt)


def today(timezone: str) -> date:
    """Today's dt in the schedule's timezone: the partition a run for "now" works on."""
    return datetime.now(ZoneInfo(timezone)).date()


def partition_dt(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


@contextmanager
def asset_step(
    context: dg.AssetExecutionContext,
    tunelake: TunelakeResource,
    source: str = "raw",
    *,
    writes_current: bool = True,
) -> Iterator[AssetStep]:
    """Open the stores, hold the dt's lock, and record the asset's steps as a tunelake run
    (`tunelake runs` lists it, kind `dagster`). A transient failure (the error root says
    which: an API rate limit, a backend down, the dt locked by another run) is raised as is,
    for the asset's retry policy; any other fails the asset without a retry.

    A step that may replace the current state (`writes_current`: the warehouse and the
    serving store hold the newest dt) also holds the home's `current` lock, so that whether
    its dt is the newest cannot change between deciding and writing: two backfills of
    different dts at once would otherwise leave an older dt as current."""
    settings = tunelake.settings()
    dt = partition_dt(context)
    holder = f"dagster run {context.run.run_id} ({context.op_def.name})"
    try:
        with ExitStack() as held:
            res = held.enter_context(open_resources(settings))
            held.enter_context(dt_lock(settings.home, dt, holder))
            if writes_current:
                what = f"the current state of {settings.home}"
                held.enter_context(home_lock(settings.home, "current", holder, what))
            recorder = RunRecorder(
                res.warehouse, settings.runs_dir, dt, kind="dagster", source=source
            )
            try:
                yield AssetStep(res, dt, recorder)
            except Exception as failure:  # a step's, or reading its inputs: recorded either way
                recorder.run.outputs.update(res.outputs())
                recorder.finish(failure)
                raise
            recorder.run.outputs.update(res.outputs())
            recorder.finish()
    except Exception as exc:
        raise as_failure(context, exc)  # noqa: B904 (as_failure chains it)


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
