"""One root for every error tunelake raises on purpose, and two markers that say what a
caller may do about it.

- `UserError`: the input, the configuration or the environment has to change (a bad file,
  a bad setting, a backend that is not running). Entry points print the message on one line
  and exit with the class's `exit_code`; the traceback goes to the log file only.
- `TransientError`: the same call may succeed later (an API that rate-limits or fails, a
  server that is down). The automation retries these, and only these.

An error may carry both markers (an unreachable backend). An exception that is not a
`TunelakeError` is a bug in tunelake: only those print a traceback.

    TunelakeError                          exit 1 unless a marker says otherwise
    ├── UserError                          exit 2
    │   ├── ConfigError                    a setting or profile cannot be used (config.py…)
    │   ├── InputError                     a file, a query or an argument cannot be used
    │   │   ├── DumpError                  sources/dump/read.py
    │   │   ├── SeedsError                 sources/seeds.py
    │   │   ├── SqlError                   engines/sql.py (refused statements too)
    │   │   └── MissingPartition           engines/spark.py: the dt's inputs are not in the lake
    │   ├── NotFound                       app.py: no such artist, run or request;
    │   │                                  pipeline/run.py: no seed matched (exit 1)
    │   ├── NoVectors                      engines/vectors.py: no artist got a vector
    │   ├── MissingInput                   pipeline/inputs.py: an upstream partition is missing
    │   ├── ServiceError                   localservices/: a local server would not start
    │   └── OrchestrateError               orchestration/server.py: Dagster would not start
    ├── TransientError                     exit 75 (EX_TEMPFAIL)
    │   ├── RunLocked                      pipeline/lock.py: another run holds the dt
    │   └── NothingPublished               service/state.py: no run has written the stores yet
    ├── BackendUnavailable (User+Transient) exit 69 (EX_UNAVAILABLE)
    │   ├── WarehouseUnavailable           storage/warehouse/port.py
    │   ├── LakeUnavailable                storage/lake/port.py
    │   └── ServingUnavailable             storage/serving/port.py
    ├── LakeError                          storage/lake/port.py: a bad name, table or layout
    │   └── CatalogDamaged (User)          a table's metadata or the catalog file is damaged:
    │                                      `tunelake lake repair`
    │   └── LakeConflict (Transient)       a commit kept losing races with other writers
    ├── ServingError                       storage/serving/port.py
    │   ├── InvalidDocument
    │   └── Throttled (Transient)          DynamoDB left part of a batch unprocessed
    ├── SourceError                        sources/errors.py
    │   ├── PayloadError                   a payload is not what its endpoint promises
    │   ├── ApiRefused (User)              4xx other than 429: credentials, a removed endpoint
    │   ├── RateLimitedError (Transient)   Retry-After beyond the cap
    │   ├── RetriesExhaustedError (Transient)
    │   └── RawZoneError (User)            a raw-zone file is damaged: named, with the fix
    ├── TooManyRejects (User)              validate.py: a dataset's rejects pass the limit
    └── StepFailed                         observability.py: a pipeline step failed; user or
                                           transient as its cause is
"""

from __future__ import annotations

EX_USAGE = 2
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_INTERRUPTED = 130
"""128 + SIGINT: what a shell reports for a command stopped by Ctrl-C."""


class TunelakeError(Exception):
    """Base of every error tunelake raises on purpose; its message is one line for a user."""

    exit_code: int = 1


class UserError(TunelakeError):
    """The input, the configuration or the environment must change; the message says how."""

    exit_code = EX_USAGE


class TransientError(TunelakeError):
    """The same call may succeed later: the automation retries these."""

    exit_code = EX_TEMPFAIL


class BackendUnavailable(UserError, TransientError):
    """A storage backend cannot be reached: start it or fix its URL, then try again."""

    exit_code = EX_UNAVAILABLE


class ConfigError(UserError):
    """The configuration cannot be used as it is; the message says what to change."""


class InputError(UserError):
    """A file, a query or an argument cannot be used as given."""


class NotFound(UserError):
    """No artist, run or request answers to what was asked."""

    exit_code = 1


def root_cause(exc: BaseException) -> BaseException:
    """The error a wrapper (StepFailed) stands for; the error itself otherwise."""
    cause = getattr(exc, "cause", None)
    return root_cause(cause) if isinstance(cause, BaseException) else exc


def is_transient(exc: BaseException) -> bool:
    """Whether retrying later may help: what the automation retries."""
    return isinstance(root_cause(exc), TransientError)


def is_expected(exc: BaseException) -> bool:
    """Whether this is an error tunelake raises on purpose (one line), not a bug (traceback)."""
    return isinstance(root_cause(exc), TunelakeError)


def exit_code(exc: BaseException) -> int:
    cause = root_cause(exc)
    if isinstance(cause, KeyboardInterrupt):
        return EX_INTERRUPTED
    return cause.exit_code if isinstance(cause, TunelakeError) else 1
