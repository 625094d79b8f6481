"""`tunelake evaluate` on a HetRec-layout file and on the lake's plays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from typer.testing import CliRunner

from tests.plays_table import append_plays, plays
from tunelake.cli import app
from tunelake.config import load_settings
from tunelake.pipeline.resources import lake_of


def _taste_rows(seed: int = 2) -> list[tuple[str, str, int]]:
    """60 users, each into one of three groups of 12 artists."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(60):
        group = u % 3
        for a in rng.choice(12, 6, replace=False):
            rows.append((str(u), str(100 * group + int(a)), int(rng.integers(1, 500))))
    return rows


def _hetrec(path: Path) -> Path:
    lines = ["userID\tartistID\tweight"] + [f"{u}\t{a}\t{w}" for u, a, w in _taste_rows()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evaluate_a_hetrec_file_prints_a_table_and_json(tmp_path: Path) -> None:
    file = _hetrec(tmp_path / "user_artists.dat")
    home = str(tmp_path / "home")
    cli = CliRunner()
    shown = cli.invoke(app, ["evaluate", "--plays", str(file), "--home", home])
    assert shown.exit_code == 0, shown.output
    assert "60 users, 36 artists, 360 user-artist pairs" in shown.output
    for method in ("popularity", "listening", "peer-als"):
        assert method in shown.output
    assert "audio: not measured" in shown.output
    args = ["evaluate", "--plays", str(file), "--format", "json", "--seed", "3", "--home", home]
    first, again = cli.invoke(app, args), cli.invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    for run in (report, json.loads(again.output)):
        for method in run["methods"]:
            del method["build_seconds"]  # the only thing that may differ
    assert report == json.loads(again.output) or report["methods"] == [
        {k: v for k, v in m.items() if k != "build_seconds"}
        for m in json.loads(again.output)["methods"]
    ]  # deterministic from the seed, ALS included
    by = {m["method"]: m for m in report["methods"]}
    assert by["listening"]["recall@10"] > 2 * by["popularity"]["recall@10"]
    assert report["held_out"] == 60  # one of each user's six artists (20%, rounded)


def test_evaluate_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dat"
    bad.write_text("userID\tartistID\tweight\n1\tnine\t3\n")
    cli = CliRunner()
    home = str(tmp_path / "home")
    got = cli.invoke(app, ["evaluate", "--plays", str(bad), "--home", home])
    assert got.exit_code == 2
    assert got.output.count("\n") == 1 and "not a tab-separated" in got.output
    holdout = cli.invoke(app, ["evaluate", "--plays", str(bad), "--holdout", "1.5", "--home", home])
    assert holdout.exit_code == 2 and "--holdout must be between 0 and 1" in holdout.output
    fmt = cli.invoke(app, ["evaluate", "--format", "xml", "--home", home])
    assert fmt.exit_code == 2


def test_evaluate_the_lakes_plays(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cli = CliRunner()
    lake = lake_of(load_settings(home=home))
    empty = cli.invoke(app, ["evaluate", "--home", str(home)])
    assert empty.exit_code != 0 and "no plays in the lake" in empty.output
    now = datetime.now(UTC) - timedelta(hours=1)
    rows = [(u, a) for u, a, w in _taste_rows() for _ in range(w % 4 + 1)]
    table = plays((a, now) for _, a in rows)
    index = table.schema.get_field_index("user_id")
    users = pa.array([f"user-{u}" for u, _ in rows], pa.string())
    table = table.set_column(index, table.schema.field(index), users)
    append_plays(lake, table)
    got = cli.invoke(app, ["evaluate", "--format", "json", "--home", str(home)])
    assert got.exit_code == 0, got.output
    report = json.loads(got.output)
    assert report["users"] == 60 and report["artists"] == 36
    assert "audio" in report["skipped"]  # no pipeline run: no vectors
