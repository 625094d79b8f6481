"""The dashboard's templates: well-formed, and escaping whatever the data holds."""

from __future__ import annotations

from datetime import date

from tests.test_report import NASTY, Page
from tunelake import app as use_cases
from tunelake.models import ArtistDocument
from tunelake.observability import RunRecord
from tunelake.render import render

DOC = ArtistDocument.model_validate(
    {
        "artist_id": '"><script>x</script>',
        "name": NASTY,
        "genres": ["<b>metal</b>"],
        "popularity": 3,
        "top_tracks": [{"rank": 1, "track_id": "t1", "name": NASTY, "album_name": "<i>a</i>"}],
        "related_artists": [
            {"rank": 1, "artist_id": "a/../../x?y=1", "name": NASTY, "distance": 0.25}
        ],
        "dt": "2026-11-26",
    }
)


def test_the_artist_page_escapes_names_and_ids() -> None:
    profile = use_cases.ArtistProfile(
        artist=DOC, features=["energy"], values=[None], neighbours=[None]
    )
    html = render("dashboard/artist.html", profile=profile, doc=DOC, chart=None)
    page = Page(html)
    assert "<script>" not in html and "<b>metal" not in html and "<i>a" not in html
    assert NASTY in page.text and "<b>metal</b>" in "".join(page.text)
    links = [
        attrs["href"]
        for tag, attrs in page.tags
        if tag == "a" and attrs.get("href", "").startswith("/dashboard/artists/")
    ]
    # an id is one path segment: quoted, never a way out of the page's path
    assert links == ["/dashboard/artists/a%2F..%2F..%2Fx%3Fy%3D1"]


def test_the_overview_escapes_run_errors_and_the_search_box_keeps_the_query() -> None:
    run = RunRecord(run_id="r<1>", dt=date(2026, 11, 26), status="failed", error=NASTY)
    overview = use_cases.Overview(artists=1, tracks=2, latest_dt=None, runs=[run])
    html = render("dashboard/overview.html", data=overview)
    page = Page(html)
    assert "<script>" not in html and NASTY in page.text
    search = render("dashboard/search.html", q=NASTY, found=None)
    assert "<script>" not in search
    box = next(attrs for tag, attrs in Page(search).tags if tag == "input")
    assert box["value"] == NASTY


def test_the_run_page_escapes_errors_and_quotes_the_run_id() -> None:
    run = RunRecord(run_id="r/../<1>", dt=date(2026, 11, 26), status="failed", error=NASTY)
    reject = use_cases.RejectCount(dataset="tracks", dt=run.dt, reason=NASTY, rows=2)
    html = render("dashboard/run.html", run=run, rejects=[reject], report=None, written=True)
    page = Page(html)
    assert "<script>" not in html and NASTY in page.text
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and "/runs/" in attrs["href"]]
    assert links == ["/runs/r%2F..%2F%3C1%3E"]
    assert "callers with the API token" in html
