"""Structured logs and run records.

Logs: structlog events, as JSON lines in `<home>/logs/tunelake.jsonl` and readable on the
console. A processor masks any value whose key looks secret, as a second line of defence
behind SecretStr. Run records: one row per run and per step in the warehouse's
`pipeline_runs`, and the whole run as JSON in `<home>/runs/<run_id>.json`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import structlog

from tunelake.errors import TunelakeError, exit_code
from tunelake.storage.warehouse.port import Warehouse

LOG_FILE = "tunelake.jsonl"
_SECRET_WORDS = ("secret", "token", "password", "authorization", "api_key")
_installed: list[logging.Handler] = []


def _mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in event:
        if any(word in key.lower() for word in _SECRET_WORDS):
            event[key] = "**********"
    return event


def configure_logging(logs_dir: Path, *, console_level: str = "warning") -> Path:
    """JSON lines to a file (everything from info up) and a console renderer on stderr."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / LOG_FILE
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
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.dict_tracebacks,
                structlog.processors.JSONRenderer(default=str),
            ],
            foreign_pre_chain=shared,
        )
    )
    to_console = logging.StreamHandler(sys.stderr)
    to_console.setLevel(console_level.upper())
    to_console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    while _installed:  # configuring again (another data directory) replaces our handlers
        old = _installed.pop()
        root.removeHandler(old)
        old.close()
    for handler in (to_file, to_console):
        _installed.append(handler)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "uvicorn", "botocore", "s3fs", "aiobotocore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


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


class StepFailed(TunelakeError):
    """A pipeline step failed; the message is the one-line cause."""

    def __init__(self, step: str, cause: BaseException):
        self.step = step
        self.cause = cause
        super().__init__(f"step {step} failed: {one_line(cause)}")

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        return exit_code(self.cause)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class RunRecorder:
    """Records a run and its steps as they happen, so a killed run leaves a trace."""

    def __init__(self, warehouse: Warehouse, runs_dir: Path, dt: date, **meta: Any):
        self.warehouse = warehouse
        self.runs_dir = runs_dir
        self.run_id = new_run_id(dt)
        self.dt = dt
        self.meta = meta
        self.steps: list[StepRecord] = []
        self.status = "running"
        self.error: str | None = None
        self.started_at = now().isoformat()
        self.finished_at: str | None = None
        self.outputs: dict[str, str] = {}
        self.log = structlog.get_logger("tunelake.run").bind(run_id=self.run_id, dt=dt.isoformat())
        self._save(self._run_row())

    @contextmanager
    def step(self, name: str) -> Iterator[StepRecord]:
        record = StepRecord(step=name, started_at=now().isoformat())
        self.steps.append(record)
        self._save(self._step_row(record))
        self.log.info("step started", step=name)
        start = time.perf_counter()
        try:
            yield record
        except BaseException as exc:
            record.status = "failed"
            record.error = one_line(exc)
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

    def finish(self, error: BaseException | None = None) -> dict[str, Any]:
        self.status = "failed" if error else "ok"
        self.error = None if error is None else one_line(error)
        self.finished_at = now().isoformat()
        self._save(self._run_row())
        self.log.info("run finished", status=self.status, error=self.error)
        return self.as_dict()

    def add_output(self, name: str, where: str) -> None:
        """Record where an output written after the run finished (the report) is."""
        self.outputs[name] = where
        self._save(self._run_row())

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dt": self.dt.isoformat(),
            "status": self.status,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            **self.meta,
            "steps": [asdict(s) for s in self.steps],
            "outputs": self.outputs,
        }

    def _run_row(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "step": "run",
            "dt": self.dt,
            "status": self.status,
            "started_at": datetime.fromisoformat(self.started_at),
            "finished_at": self.finished_at and datetime.fromisoformat(self.finished_at),
            "error": self.error,
            "details": json.dumps({**self.meta, "outputs": self.outputs}, default=str),
        }

    def _step_row(self, record: StepRecord) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "step": record.step,
            "dt": self.dt,
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
        path = self.runs_dir / f"{self.run_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.as_dict(), indent=2, default=str), encoding="utf-8")
        tmp.replace(path)
