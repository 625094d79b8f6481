"""The HTML run report: self-contained, well-formed, and escaping whatever the data holds."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tunelake.datasets import ARTISTS, AUDIO_FEATURES, RELATED_ARTISTS, TOP_TRACKS
from tunelake.models import DEFAULT_VECTOR_FEATURES
from tunelake.observability import RunRecord
from tunelake.report import write_report

NASTY = '<script>alert("x")</script> & "Co"'
VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "wbr", "source"}


class Page(HTMLParser):
    """Parses a page, failing on a misnested or unclosed element; keeps what tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self.doctype = ""
        self.feed(html)
        self.close()
        assert not self.stack, f"unclosed elements: {self.stack}"

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        if tag == "td":
            self.rows[-1].append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if "td" in self.stack and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def sid(i: int) -> str:
    return f"{i:022d}"


def artists_table(names: list[str], popularity: list[int | None] | None) -> pa.Table:
    n = len(names)
    genres = [["<b>metal</b>", "rock"] if i % 2 else ["rock", "$pop$"] for i in range(n)]
    return pa.Table.from_pydict(
        {
            "artist_id": [sid(i) for i in range(n)],
            "name": names,
            "genres": genres,
            "popularity": popularity or [None] * n,
            "followers": [1000 * i for i in range(n)],
            "image_url": [None] * n,
        },
        schema=ARTISTS.schema,
    )


def related_table(n: int) -> pa.Table:
    """Each artist's neighbours: the next three artists, at growing distances."""
    rows = [
        {"artist_id": sid(i), "related_artist_id": sid((i + r) % n), "rank": r, "distance": r / 10}
        for i in range(n)
        for r in (1, 2, 3)
    ]
    return pa.Table.from_pylist(rows, schema=RELATED_ARTISTS.schema)


def features_table(n: int) -> pa.Table:
    rng = np.random.default_rng(7)
    columns: dict[str, Any] = {"track_id": [sid(i) for i in range(n)]}
    columns |= {f: rng.random(n) for f in DEFAULT_VECTOR_FEATURES}
    return pa.Table.from_pydict(columns).append_column("source", pa.array(["spotify"] * n))


def top_tracks_table(n: int) -> pa.Table:
    rows = [{"artist_id": sid(i), "track_id": sid(i), "rank": 1} for i in range(n)]
    return pa.Table.from_pylist(rows, schema=TOP_TRACKS.schema)


RUN = RunRecord.model_validate(
    {
        "run_id": "run-2026-01-02-abc",
        "dt": "2026-01-02",
        "status": "failed",
        "error": "step load failed: <IntegrityError>",
        "started_at": "2026-01-02T03:00:00+00:00",
        "finished_at": "2026-01-02T03:01:00+00:00",
        "steps": [
            {
                "step": "extract",
                "status": "ok",
                "rows_in": 1200,
                "rows_out": 1190,
                "rows_quarantined": 10,
                "duration_s": 12.3456,
                "error": None,
            },
            {
                "step": "load",
                "status": "failed",
                "rows_in": 1190,
                "rows_out": 0,
                "rows_quarantined": 0,
                "duration_s": 0.5,
                "error": "IntegrityError: <unique> & 'key'",
            },
        ],
        "outputs": {
            "warehouse": "mysql+pymysql://root:s3cret@127.0.0.1:3306/test",
            "lake": "/data/lake",
            "serving": "redis://127.0.0.1:6379/0",
        },
    }
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Page]:
    """One report, read by several tests: drawing it is the slow part."""
    names = [f"artist {i}" for i in range(12)]
    names[3] = NASTY
    popularity: list[int | None] = [10 + i for i in range(12)]
    popularity[3] = 99
    path = write_report(
        tmp_path_factory.mktemp("reports") / "run.html",
        RUN,
        artists=artists_table(names, popularity),
        audio_features=features_table(40),
        top_tracks=top_tracks_table(12),
        related=related_table(12),
        vectors=None,
    )
    html = path.read_text(encoding="utf-8")
    return path, html, Page(html)


def test_report_is_written_as_well_formed_html(report: tuple[Path, str, Page]) -> None:
    path, html, page = report
    assert path.name == "run.html" and path.is_file()
    assert page.doctype.lower() == "doctype html"
    assert [p.name for p in path.parent.iterdir()] == ["run.html"]  # no partial file left
    assert "run-2026-01-02-abc" in html
    assert "step load failed: <IntegrityError>" in page.text


def test_report_lists_the_steps(report: tuple[Path, str, Page]) -> None:
    _, _, page = report
    assert ["extract", "ok", "1,200", "1,190", "10", "12.35 s", ""] in page.rows
    assert ["load", "failed", "1,190", "0", "0", "0.50 s", "IntegrityError: <unique> & 'key'"] in (
        page.rows
    )


def test_report_embeds_its_plots(report: tuple[Path, str, Page]) -> None:
    _, html, page = report
    assert html.count("<svg") == 2  # genres and feature histograms
    svg_text = " ".join(page.text)
    assert "<b>metal</b>" in svg_text and "$pop$" in svg_text  # genre names, drawn verbatim
    assert all(f in svg_text for f in DEFAULT_VECTOR_FEATURES)


def test_report_loads_nothing_from_the_network(report: tuple[Path, str, Page]) -> None:
    _, _, page = report
    tags = {tag for tag, _ in page.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    for _, attrs in page.tags:
        for name in ("src", "href", "xlink:href"):
            value = attrs.get(name) or ""
            assert not value.startswith(("http://", "https://", "//")), (name, value)


def test_report_escapes_data(report: tuple[Path, str, Page]) -> None:
    _, html, page = report
    assert "<script>" not in html and "<b>metal" not in html
    # Jinja2's autoescape writes a double quote as &#34;
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;Co&#34;" in html
    assert NASTY in page.text  # the parser reads back the name as it was


def test_report_shows_the_most_popular_artists_with_neighbours(
    report: tuple[Path, str, Page],
) -> None:
    _, _, page = report
    assert [NASTY, "99", "1", "artist 4", "0.1000"] in page.rows
    assert ["", "", "3", "artist 6", "0.3000"] in page.rows
    assert ["artist 11", "21", "1", "artist 0", "0.1000"] in page.rows
    assert not any(row[:1] == ["artist 7"] for row in page.rows)  # 6th most popular: not shown


def test_report_hides_passwords_in_outputs(report: tuple[Path, str, Page]) -> None:
    _, html, page = report
    assert "s3cret" not in html
    assert ["warehouse", "mysql+pymysql://root:***@127.0.0.1:3306/test"] in page.rows
    assert ["lake", "/data/lake"] in page.rows


def test_report_without_popularity_features_by_name(tmp_path: Path) -> None:
    names = ["delta", "alpha", "echo", "charlie", "bravo", "foxtrot"]
    path = write_report(
        tmp_path / "run.html",
        RUN,
        artists=artists_table(names, None),
        audio_features=features_table(5),
        top_tracks=top_tracks_table(6),
        related=related_table(6),
        vectors=pa.table({"artist_id": [sid(0)]}),
    )
    page = Page(path.read_text(encoding="utf-8"))
    leads = [row[0] for row in page.rows if len(row) == 4 and row[0]]
    assert leads == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert ["alpha", "1", "echo", "0.1000"] in page.rows
    assert ["artist vectors", "1"] in page.rows


def test_report_of_an_empty_run(tmp_path: Path) -> None:
    empty = RunRecord(run_id="r0", dt=date(2026, 1, 2), status="running")
    path = write_report(
        tmp_path / "run.html",
        empty,
        artists=ARTISTS.schema.empty_table(),
        audio_features=AUDIO_FEATURES.schema.empty_table(),
        top_tracks=TOP_TRACKS.schema.empty_table(),
        related=RELATED_ARTISTS.schema.empty_table(),
        vectors=None,
    )
    html = path.read_text(encoding="utf-8")
    page = Page(html)
    text = " ".join(page.text)
    assert "<svg" not in html
    for message in ("No steps recorded.", "No genres in this run.", "No artists in this run."):
        assert message in text
    assert ["artist vectors", "not computed"] in page.rows
