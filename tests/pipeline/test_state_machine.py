"""A model-based test of the current-state rules: random sequences of runs, ingests,
backfills, older-dt runs, re-runs and killed runs (a subprocess killed with SIGKILL, then
run again) on one data directory across three dts. After every step:

- the warehouse and the serving store hold the lake's newest curated dt (the model says
  which dt that is, and which artists it holds);
- every current artist's neighbours are its exact nearest over the whole current set
  (tests/pipeline/model.py computes them by brute force);
- every run's validation accounts for each row it read (in = curated + quarantined);
- no lock is left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.pipeline.model import assert_current_state_holds, unique_names
from tunelake import app
from tunelake.config import load_settings
from tunelake.errors import NotFound
from tunelake.pipeline.run import RunResult

ARTISTS = 16
DTS = (date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26))
_NAMES = unique_names(load_settings(home=Path(tempfile.gettempdir()), catalog_artists=ARTISTS))

dts = st.sampled_from(DTS)
some_names = st.sets(st.sampled_from(_NAMES), min_size=2, max_size=6).map(sorted)

_KILLED_RUN = """
import sys
from datetime import date
from tunelake import app
from tunelake.config import load_settings
settings = load_settings(home=sys.argv[1], catalog_artists=int(sys.argv[2]))
app.run(settings, dt=date.fromisoformat(sys.argv[3]), queries=sys.argv[4:])
"""


class CurrentState(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="tunelake-model-"))
        self.settings = load_settings(home=self.folder / "home", catalog_artists=ARTISTS)
        self.names: dict[date, set[str]] = {}
        """The model: the artists (by their unique names) each landed dt holds."""
        self.curated: set[date] = set()
        self.results: list[RunResult] = []

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _newest(self) -> date | None:
        return max(self.curated, default=None)

    def _ran(self, dt: date, names: set[str], result: RunResult) -> None:
        assert result.ok
        self.names.setdefault(dt, set()).update(names)
        self.curated.add(dt)
        self.results.append(result)

    @initialize(dt=dts, names=some_names)
    def first_run(self, dt: date, names: list[str]) -> None:
        self._ran(dt, set(names), app.run(self.settings, dt=dt, queries=names))

    @rule(dt=dts, names=some_names)
    def run(self, dt: date, names: list[str]) -> None:
        """A run, an older-dt run or a re-run, depending on dt."""
        self._ran(dt, set(names), app.run(self.settings, dt=dt, queries=names))

    @rule(dt=dts, name=st.sampled_from(_NAMES))
    def ingest(self, dt: date, name: str) -> None:
        newest = self._newest()
        carried = self.names[newest] if newest is not None and newest < dt else set()
        result = app.ingest(self.settings, dt=dt, queries=[name])
        self._ran(dt, {name} | carried, result)

    @rule(start=dts, end=dts)
    def backfill(self, start: date, end: date) -> None:
        start, end = min(start, end), max(start, end)
        landed = [d for d in self.names if start <= d <= end]
        if not landed:
            with pytest.raises(NotFound):
                app.backfill(self.settings, start=start, end=end)
            return
        results = app.backfill(self.settings, start=start, end=end)
        assert [r.record.dt for r in results] == sorted(landed)
        for result in results:
            self._ran(result.record.dt, set(), result)

    @precondition(lambda self: bool(self.curated))
    @rule(dt=dts, names=some_names, after=st.floats(0.5, 6.0))
    def killed_run(self, dt: date, names: list[str], after: float) -> None:
        """A run killed with SIGKILL somewhere along its way, then run again."""
        args = [str(self.settings.home), str(ARTISTS), dt.isoformat(), *names]
        process = subprocess.Popen(
            [sys.executable, "-c", _KILLED_RUN, *args],
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(after)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self._ran(dt, set(names), app.run(self.settings, dt=dt, queries=names))

    @invariant()
    def current_state_holds(self) -> None:
        if not self.curated:
            return
        state = assert_current_state_holds(self.settings)
        newest = self._newest()
        assert state["dt"] == newest
        with_names = {
            doc["name"] for doc in state["serving"].values() if doc["artist_id"] in state["current"]
        }
        assert with_names == self.names[newest]

    @invariant()
    def rows_accounted_for(self) -> None:
        for result in self.results[-3:]:
            validate = result.step("validate")
            for name, counts in validate.details.items():
                if isinstance(counts, dict) and "in" in counts:
                    assert counts["in"] == counts["out"] + counts["quarantined"], name


_BOUNDED = settings(
    max_examples=2,
    stateful_step_count=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


class Bounded(CurrentState):
    pass


class Longer(CurrentState):
    pass


Bounded.TestCase.settings = _BOUNDED
test_current_state_machine = Bounded.TestCase

Longer.TestCase.settings = settings(
    _BOUNDED, max_examples=6, stateful_step_count=6, derandomize=False
)
# a few minutes on an idle machine: past the default per-test timeout when it is loaded
test_current_state_machine_longer = pytest.mark.timeout(1800)(pytest.mark.slow(Longer.TestCase))
