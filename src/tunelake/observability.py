"""Structured logs and run records.

Logs: structlog events, as JSON lines in `<home>/logs/tunelake.jsonl` and readable on the
console. A processor masks any value whose key looks secret, as a second line of defence
behind SecretStr. Run records: one row per run and per step in the warehouse's
`pipeline_runs`, and the whole run as JSON in `<home>/runs/<run_id>.json`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, Field

from tunelake.errors import TunelakeError, exit_code, root_cause
from tunelake.redact import mask_urls_in
from tunelake.storage.warehouse.port import Warehouse

LOG_FILE = "tunelake.jsonl"
_SECRET_WORDS = ("secret", "token", "password", "authorization", "api_key")
_CREDENTIAL_IN_TEXT = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_installed: list[logging.Handler] = []


def _scrub(key: str, value: Any) -> Any:
    if any(word in key.lower() for word in _SECRET_WORDS):
        return "**********"
    if isinstance(value, str):
        return _CREDENTIAL_IN_TEXT.sub(r"\1 **********", mask_urls_in(value))
    if isinstance(value, dict):
        return {k: _scrub(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub("", v) for v in value]
    return value


def _mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask values whose key looks secret, and credentials written into any text (an
    Authorization header or a URL's password quoted in a message or a traceback), at any
    depth: a second line of defence behind SecretStr."""
    for key, value in event.items():
        event[key] = _scrub(key, value)
    return event


def _without_traceback(record: logging.LogRecord) -> bool:
    """Console filter: an event logged with its traceback is a failure that the entry point
    reports itself, in one line; the traceback is for the log file only."""
    event = record.msg
    return record.exc_info is None and not (isinstance(event, dict) and event.get("exc_info"))


# Locals are never rendered: they hold settings, data rows and HTTP headers (tokens).
_TRACEBACK_WITHOUT_LOCALS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def configure_logging(
    logs_dir: Path | None, *, console_level: str = "warning", create: bool = True
) -> Path | None:
    """JSON lines to `<logs_dir>/tunelake.jsonl` (everything from info up, tracebacks without
    local variables) and one-line events on stderr. With create=False (read-only commands) a
    missing or unwritable folder means no log file, not a failure; logs_dir None: stderr only
    (before the settings that name the folder are read). Returns the log file."""
    path = None if logs_dir is None else logs_dir / LOG_FILE
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handlers: list[logging.Handler] = []
    to_file = None if logs_dir is None else _file_handler(logs_dir, create)
    if to_file is None:
        path = None
    else:
        to_file.setLevel(logging.INFO)
        to_file.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _TRACEBACK_WITHOUT_LOCALS,
                    _mask_secrets,
                    structlog.processors.JSONRenderer(default=str),
                ],
                foreign_pre_chain=shared,
            )
        )
        handlers.append(to_file)
    to_console = logging.StreamHandler(sys.stderr)
    to_console.setLevel(console_level.upper())
    to_console.addFilter(_without_traceback)
    to_console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
            ],
            foreign_pre_chain=shared,
        )
    )
    handlers.append(to_console)
    root = logging.getLogger()
    while _installed:  # configuring again (another data directory) replaces our handlers
        old = _installed.pop()
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        _installed.append(handler)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "uvicorn", "botocore", "s3fs", "aiobotocore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


def _file_handler(logs_dir: Path, create: bool) -> logging.FileHandler | None:
    try:
        if create:
            logs_dir.mkdir(parents=True, exist_ok=True)
        return logging.FileHandler(logs_dir / LOG_FILE, encoding="utf-8")
    except OSError:
        return None


def now() -> datetime:
    return datetime.now(UTC)


def new_run_id(dt: date) -> str:
    return f"{dt.isoformat()}-{now():%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass
class StepRecord:
    step: str
    status: str = "running"
    started_at: str = ""
    finished_at: str | None = None
    duration_s: float | None = None
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def counts(self, rows_in: int, rows_out: int, quarantined: int = 0) -> None:
        self.rows_in, self.rows_out, self.rows_quarantined = rows_in, rows_out, quarantined


class RunRecord(BaseModel):
    """One run as recorded: what `tunelake runs` prints, the API returns, the report shows."""

    run_id: str
    dt: date
    status: str
    """running, ok, failed, or abandoned (still `running`, but its process is gone)."""
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    kind: str | None = None
    """run or backfill."""
    source: str | None = None
    pid: int | None = None
    host: str | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict)

    @property
    def failed_step(self) -> StepRecord | None:
        return next((s for s in self.steps if s.status == "failed"), None)

    @property
    def quarantined(self) -> int:
        return sum(s.rows_quarantined for s in self.steps)

    @property
    def warnings(self) -> list[str]:
        """What the steps recorded as lost on the way (e.g. artists without a vector)."""
        return [str(s.details["warning"]) for s in self.steps if s.details.get("warning")]

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class StepFailed(TunelakeError):
    """A pipeline step failed; the message is the one-line cause. `run` is the run's record
    as it was closed (None until the recorder closes it)."""

    def __init__(self, step: str, cause: BaseException):
        self.step = step
        self.cause = cause
        self.run: RunRecord | None = None
        super().__init__(f"step {step} failed: {one_line(cause)}")

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        return exit_code(self.cause)


INTERRUPTED = "interrupted (Ctrl-C)"
"""What a run record (and the CLI) says of a run stopped by Ctrl-C."""


def one_line(exc: BaseException) -> str:
    """The error as run records keep it: its first line, a URL's password masked."""
    text = mask_urls_in(str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class RunRecorder:
    """Records a run and its steps as they happen, so a killed run leaves a trace: a row per
    run and per step in the warehouse, and the whole record in `<runs_dir>/<run_id>.json`.
    The run row names the process (pid, host) so a run whose process died is seen as
    abandoned."""

    def __init__(self, warehouse: Warehouse, runs_dir: Path, dt: date, *, kind: str, source: str):
        self.warehouse = warehouse
        self.runs_dir = runs_dir
        self.run = RunRecord(
            run_id=new_run_id(dt),
            dt=dt,
            status="running",
            started_at=now(),
            kind=kind,
            source=source,
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        self.log = structlog.get_logger("tunelake.run").bind(
            run_id=self.run.run_id, dt=dt.isoformat()
        )
        self._save(self._run_row())

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @contextmanager
    def step(self, name: str) -> Iterator[StepRecord]:
        record = StepRecord(step=name, started_at=now().isoformat())
        self.run.steps.append(record)
        self._save(self._step_row(record))
        self.log.info("step started", step=name)
        start = time.perf_counter()
        try:
            yield record
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            record.status = "interrupted" if interrupted else "failed"
            record.error = INTERRUPTED if interrupted else one_line(exc)
            self.log.error("step failed", step=name, error=record.error, exc_info=True)
            raise StepFailed(name, exc) from exc
        else:
            record.status = "ok" if record.status == "running" else record.status
            self.log.info(
                "step finished",
                step=name,
                status=record.status,
                rows_in=record.rows_in,
                rows_out=record.rows_out,
                rows_quarantined=record.rows_quarantined,
            )
        finally:
            record.duration_s = round(time.perf_counter() - start, 3)
            record.finished_at = now().isoformat()
            self._save(self._step_row(record))

    def finish(self, error: BaseException | None = None) -> RunRecord:
        interrupted = error is not None and isinstance(root_cause(error), KeyboardInterrupt)
        self.run.status = "interrupted" if interrupted else "failed" if error else "ok"
        if interrupted:  # not "StepFailed: step x failed: KeyboardInterrupt": nothing failed
            step = f" at step {error.step}" if isinstance(error, StepFailed) else ""
            self.run.error = f"{INTERRUPTED}{step}"
        else:
            self.run.error = None if error is None else one_line(error)
        self.run.finished_at = now()
        self._save(self._run_row())
        self.log.info("run finished", status=self.run.status, error=self.run.error)
        if isinstance(error, StepFailed):
            error.run = self.run
        return self.run

    def add_output(self, name: str, where: str) -> None:
        """Record where an output is (the report is written after the run closes)."""
        self.run.outputs[name] = where
        self._save(self._run_row())

    def _run_row(self) -> dict[str, Any]:
        run = self.run
        meta = {"kind": run.kind, "source": run.source, "pid": run.pid, "host": run.host}
        return {
            "run_id": run.run_id,
            "step": "run",
            "dt": run.dt,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "error": run.error,
            "details": json.dumps({**meta, "outputs": run.outputs}, default=str),
        }

    def _step_row(self, record: StepRecord) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "step": record.step,
            "dt": self.run.dt,
            "status": record.status,
            "started_at": datetime.fromisoformat(record.started_at),
            "finished_at": record.finished_at and datetime.fromisoformat(record.finished_at),
            "duration_s": record.duration_s,
            "rows_in": record.rows_in,
            "rows_out": record.rows_out,
            "rows_quarantined": record.rows_quarantined,
            "error": record.error,
            "details": json.dumps(record.details, default=str),
        }

    def _save(self, row: dict[str, Any]) -> None:
        self.warehouse.record_run(row)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        path = self.runs_dir / f"{self.run.run_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.run.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)


def records_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[RunRecord]:
    """Run records from pipeline_runs rows (a `run` row each, and the rows of its steps),
    in the order of the run rows. A run still `running` whose process is gone on this host
    is `abandoned`, and so is the step it was in."""
    steps: dict[str, list[StepRecord]] = {}
    for row in rows:
        if row["step"] != "run":
            steps.setdefault(row["run_id"], []).append(_step_from_row(row))
    records = []
    for row in rows:
        if row["step"] != "run":
            continue
        details = row["details"] or {}
        run = RunRecord(
            run_id=row["run_id"],
            dt=row["dt"],
            status=row["status"],
            error=row["error"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            kind=details.get("kind"),
            source=details.get("source"),
            pid=details.get("pid"),
            host=details.get("host"),
            steps=sorted(steps.get(row["run_id"], []), key=lambda s: s.started_at),
            outputs=details.get("outputs") or {},
        )
        if run.status == "running" and not _alive(run.pid, run.host):
            run.status = "abandoned"
            for step in run.steps:  # the step it was in died with it
                if step.status == "running":
                    step.status = "abandoned"
        records.append(run)
    return records


def _step_from_row(row: Mapping[str, Any]) -> StepRecord:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return StepRecord(
        step=row["step"],
        status=row["status"],
        started_at=iso(row["started_at"]) or "",
        finished_at=iso(row["finished_at"]),
        duration_s=row["duration_s"],
        rows_in=row["rows_in"] or 0,
        rows_out=row["rows_out"] or 0,
        rows_quarantined=row["rows_quarantined"] or 0,
        error=row["error"],
        details=row["details"] or {},
    )


def _alive(pid: int | None, host: str | None) -> bool:
    """Whether the process that recorded a run still runs. A run recorded on another host,
    or before runs named their process, cannot be checked here and counts as alive."""
    if pid is None or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user holds that pid
        return True
    return True
