"""`tunelake listening trending | plays` on a data directory with plays in its lake."""

from __future__ import annotations

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
    counted = cli.invoke(app, ["listening", "plays", "x", "--home", str(home)])
    assert counted.exit_code == 0, counted.output
    assert counted.output.startswith("11 plays of x")
    bad = cli.invoke(app, ["listening", "plays", "x", "--from", "soon", "--home", str(home)])
    assert bad.exit_code == 2
    assert "--from 'soon' is not a time" in bad.output
