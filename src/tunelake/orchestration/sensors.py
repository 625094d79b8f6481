"""Event triggers and monitoring.

- `ingest_requests`: the outbox (`tunelake ingest --queue`, the service's unknown-artist
  requests). Pending requests start one run of today's partition for those artists; the run
  key names the requests, so a request is never run twice. Discovery marks each one done,
  ambiguous or not_found; a run that fails marks its requests still pending `failed` with
  the cause (`on_run_failure`).
- `on_run_failure`: any failed run is alerted (webhook + log).
- `on_check_failure`: any failed asset check is alerted, once (the cursor is the event id).
"""


import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from tunelake.errors import NotFound
from tunelake.orchestration.alerts import Alert, first_line, send_alert
from tunelake.orchestration.resources import TunelakeResource, automation
from tunelake.pipeline.resources import reading_warehouse

REQUESTS_TAG = "tunelake/ingest_requests"
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.assets("raw_responses").downstream(),
    description="Discover and extract the requested artists, then everything downstream.",
)


def today(timezone: str, now: datetime | None = None) -> str:
    return (now or datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone)).date().isoformat()


@dg.sensor(
    name="ingest_requests",
    target=ingest_job,
    minimum_interval_seconds=automation().outbox_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One run for the pending ingest requests of the outbox.",
)
def ingest_requests(
    context: dg.SensorEvaluationContext, tunelake: TunelakeResource
) -> dg.RunRequest | dg.SkipReason:
    try:
        with reading_warehouse(tunelake.settings()) as warehouse:
            pending = warehouse.pending_ingest_requests()
    except NotFound as exc:  # nothing has run yet: no outbox to read
        return dg.SkipReason(str(exc))
    if not pending:
        return dg.SkipReason("no pending ingest request")
    ids = ",".join(str(r["request_id"]) for r in pending)
    queries = list(dict.fromkeys(r["query"] for r in pending))
    return dg.RunRequest(
        # the same requests give the same key: Dagster launches a key once
        run_key=f"ingest-{hashlib.sha256(ids.encode()).hexdigest()[:16]}",
        partition_key=today(automation().schedule_timezone),
        run_config={"ops": {"raw_responses": {"config": {"artists": queries}}}},
        tags={REQUESTS_TAG: ids},
    )


def _run_url(run_id: str) -> str:
    return f"{automation().webserver_url.rstrip('/')}/runs/{run_id}"


def _cause(context: dg.RunFailureSensorContext) -> tuple[str, str]:
    """(what failed, its one-line cause): the failed steps and the first one's error."""
    failures = context.get_step_failure_events()
    if not failures:
        return f"run {context.dagster_run.job_name}", first_line(context.failure_event.message or "")
    steps = ", ".join(sorted({e.step_key or "?" for e in failures}))
    data = failures[0].step_failure_data
    user = data.user_failure_data
    cause = user.description if user is not None and user.description else data.error.message if data.error else ""
    return f"run {context.dagster_run.job_name} (steps {steps})", first_line(cause or "")


@dg.run_failure_sensor(
    name="on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert on a failed run; mark its ingest requests failed with the cause.",
)
def on_run_failure(context: dg.RunFailureSensorContext, tunelake: TunelakeResource) -> None:
    run = context.dagster_run
    what, cause = _cause(context)
    settings = tunelake.settings()
    send_alert(
        Alert(what, run.tags.get("dagster/partition"), cause, _run_url(run.run_id)),
        settings,
        automation(),
    )
    requested = {int(i) for i in run.tags.get(REQUESTS_TAG, "").split(",") if i}
    if not requested:
        return
    with reading_warehouse(settings) as warehouse:
        for request in warehouse.pending_ingest_requests():
            if request["request_id"] in requested:
                warehouse.resolve_ingest_request(
                    request["request_id"], "failed", None, f"run {run.run_id} failed: {cause}"
                )


@dg.sensor(
    name="on_check_failure",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert on a failed asset check.",
)
def on_check_failure(
    context: dg.SensorEvaluationContext, tunelake: TunelakeResource
) -> dg.SkipReason:
    after = int(context.cursor) if context.cursor else None
    records = context.instance.get_event_records(
        dg.EventRecordsFilter(dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
        ascending=True,
        limit=100,
    )
    sent = 0
    for record in records:
        evaluation = record.event_log_entry.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
        if not evaluation.passed:
            meta = evaluation.metadata
            reason = meta.get("reason") or meta.get("first_wrong") or meta.get("failing_rows")
            key = evaluation.asset_check_key
            send_alert(
                Alert(
                    f"check {key.name} of {key.asset_key.to_user_string()}",
                    evaluation.partition,
                    first_line(str(getattr(reason, "value", reason) or "check failed")),
                    _run_url(record.run_id),
                ),
                tunelake.settings(),
                automation(),
            )
            sent += 1
    if records:
        context.update_cursor(str(records[-1].storage_id))
    return dg.SkipReason(f"{sent} failed check(s) alerted")


SENSORS = [ingest_requests, on_run_failure, on_check_failure]
