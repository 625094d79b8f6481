"""`tunelake listening trending | plays` on a data directory with plays in its lake."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from tests.plays_table import append_plays, many, plays
from tunelake.cli import app
from tunelake.config import load_settings
from tunelake.pipeline.resources import lake_of


def test_trending_is_published_then_shown_and_plays_are_counted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    now = datetime.now(UTC)
    append_plays(
        lake_of(load_settings(home=home)), plays(many("x", now - timedelta(minutes=5), 11))
    )
    cli = CliRunner()
    before = cli.invoke(app, ["listening", "trending", "--home", str(home)])
    assert before.exit_code == 1  # nothing matched: no serving store yet, one line saying so
    assert "no serving store at" in before.output
    published = cli.invoke(app, ["listening", "trending", "--publish", "--home", str(home)])
    assert published.exit_code == 0, published.output
    assert "x" in published.output and "11" in published.output
    shown = cli.invoke(app, ["listening", "trending", "--home", str(home)])
    assert shown.exit_code == 0 and "11" in shown.output
    as_json = cli.invoke(app, ["listening", "trending", "--format", "json", "--home", str(home)])
    [x] = json.loads(as_json.stdout)
    assert (x["artist_id"], x["plays"], x["rank"]) == ("x", 11, 1)
    as_csv = cli.invoke(app, ["listening", "trending", "--format", "csv", "--home", str(home)])
    assert next(csv.DictReader(io.StringIO(as_csv.stdout)))["plays"] == "11"
    counted = cli.invoke(app, ["listening", "plays", "x", "--home", str(home)])
    assert counted.exit_code == 0, counted.output
    assert counted.output.startswith("11 plays of x")
    bad = cli.invoke(app, ["listening", "plays", "x", "--from", "soon", "--home", str(home)])
    assert bad.exit_code == 2
    assert "--from 'soon' is not a time" in bad.output
