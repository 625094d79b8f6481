"""Event triggers and monitoring.

- `ingest_requests`: the outbox (`tunelake ingest --queue`, the service's unknown-artist
  requests). Pending requests start one run of today's partition for those artists, added to
  the current state as `tunelake ingest` adds them; the run key names the requests, so a
  request is never run twice (pipeline/outbox.py holds every transition of a request). Discovery marks each one done,
  ambiguous or not_found; a run that fails marks its requests still pending `failed` with
  the cause (`on_run_failure`).
- `on_run_failure`: a failed run is alerted (webhook + log), with its failed checks (a
  failed blocking check fails its run).
- `on_check_failure`: a failed check of a run that succeeded (non-blocking: freshness).
"""

import hashlib

import dagster as dg

from tunelake.errors import NotFound
from tunelake.orchestration.alerts import Alert, first_line, send_alert
from tunelake.orchestration.resources import TunelakeResource, automation, today
from tunelake.pipeline import outbox

REQUESTS_TAG = "tunelake/ingest_requests"
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.assets("raw_responses").downstream(),
    description="Discover and extract the requested artists, then everything downstream.",
    executor_def=dg.in_process_executor,  # see definitions.py
)


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
        pending = outbox.pending(tunelake.settings())
    except NotFound as exc:  # nothing has run yet: no outbox to read
        return dg.SkipReason(str(exc))
    if not pending:
        return dg.SkipReason("no pending ingest request")
    ids = ",".join(str(r["request_id"]) for r in pending)
    queries = list(dict.fromkeys(r["query"] for r in pending))
    return dg.RunRequest(
        # the same requests give the same key: Dagster launches a key once
        run_key=f"ingest-{hashlib.sha256(ids.encode()).hexdigest()[:16]}",
        partition_key=today(automation().schedule_timezone).isoformat(),
        run_config={"ops": {"raw_responses": {"config": {"artists": queries}}}},
        tags={REQUESTS_TAG: ids},
    )


def _run_url(run_id: str) -> str:
    return f"{automation().webserver_url.rstrip('/')}/runs/{run_id}"


def _cause(context: dg.RunFailureSensorContext) -> tuple[str, str]:
    """(what failed, its one-line cause): the failed steps and the first one's error."""
    failures = context.get_step_failure_events()
    if not failures:
        return f"run {context.dagster_run.job_name}", first_line(
            context.failure_event.message or ""
        )
    steps = ", ".join(sorted({e.step_key or "?" for e in failures}))
    data = failures[0].step_failure_data
    user = data.user_failure_data
    cause = (
        user.description
        if user is not None and user.description
        else data.error.message
        if data.error
        else ""
    )
    return f"run {context.dagster_run.job_name} (steps {steps})", first_line(cause or "")


def _alert_failed_checks(context: dg.RunStatusSensorContext, tunelake: TunelakeResource) -> int:
    """Alert every check of the run that did not pass; returns how many."""
    run = context.dagster_run
    sent = 0
    for entry in context.instance.all_logs(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ):
        evaluation = entry.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
        if evaluation.passed:
            continue
        reason = evaluation.metadata.get("reason")
        key = evaluation.asset_check_key
        send_alert(
            Alert(
                f"check {key.name} of {key.asset_key.to_user_string()}",
                evaluation.partition,
                str(reason.value) if reason is not None else "see the check's metadata",
                _run_url(run.run_id),
            ),
            tunelake.settings(),
            automation(),
        )
        sent += 1
    return sent


@dg.run_failure_sensor(
    name="on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert on a failed run and its failed checks; mark its ingest requests failed.",
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
    _alert_failed_checks(context, tunelake)
    requested = {int(i) for i in run.tags.get(REQUESTS_TAG, "").split(",") if i}
    if requested:
        outbox.mark_failed(settings, requested, f"run {run.run_id} failed: {cause}")


@dg.run_status_sensor(
    name="on_check_failure",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert on a failed check of a run that succeeded (a non-blocking check: "
    "a blocking one fails its run, and on_run_failure alerts it).",
)
def on_check_failure(context: dg.RunStatusSensorContext, tunelake: TunelakeResource) -> None:
    _alert_failed_checks(context, tunelake)


SENSORS = [ingest_requests, on_run_failure, on_check_failure]
