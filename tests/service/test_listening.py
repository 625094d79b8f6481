"""Listening on the service: GET /trending, GET /artists/{id}/plays, the dashboard's Listening
page and the chatbot's trending carousel, over a published data directory whose lake holds
plays (written as the consumer writes them) and a trending list published from them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.plays_table import append_plays, many, plays
from tests.service.conftest import DT, running, settings_of
from tests.service.test_chat import ask, payload
from tunelake import app as use_cases
from tunelake.pipeline.resources import lake_of, reading_serving
from tunelake.service.chat import asks_trending

HOUR = timedelta(hours=1)
# Whole minutes: the plays are placed relative to it, a few minutes before the real now.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
UNKNOWN = "not-published-yet"


@dataclass(frozen=True)
class Listened:
    client: httpx.Client
    rising: str
    steady: str
    quiet: str
    names: dict[str, str]


@pytest.fixture(scope="module")
def listened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listened]:
    """A catalog run, plays of three of its artists and of one it does not know, and the
    trending list published: `rising` and UNKNOWN trend, `steady` does not."""
    settings = settings_of(tmp_path_factory.mktemp("listening") / "home", trending_min_plays=5)
    use_cases.run(settings, dt=DT)
    lake = lake_of(settings)
    artists = lake.read_partition("artists", DT)
    assert artists is not None
    rising, steady, quiet = sorted(artists["artist_id"].to_pylist())[:3]
    rows = []
    for hours_ago in range(2, 26):
        rows += many(rising, NOW - hours_ago * HOUR, 2) + many(steady, NOW - hours_ago * HOUR, 8)
    rows += many(rising, NOW - HOUR / 3, 30) + many(steady, NOW - HOUR / 3, 8)
    rows += many(UNKNOWN, NOW - HOUR / 4, 9) + many(quiet, NOW - 20 * HOUR, 1)
    append_plays(lake, plays(rows))
    use_cases.publish_trending(settings, now=NOW)
    with reading_serving(settings) as store:
        names = {i: d["name"] for i, d in store.get_many([rising, steady, quiet]).items()}
    with running(settings) as client:
        yield Listened(client, rising, steady, quiet, names)


def test_trending_lists_the_artists_above_their_usual_rate(listened: Listened) -> None:
    answer = listened.client.get("/trending")
    assert answer.status_code == 200
    body = answer.json()
    assert body["window_minutes"] == 60
    assert datetime.fromisoformat(body["computed_at"]) == NOW
    artists = body["artists"]
    assert [a["artist_id"] for a in artists] == [listened.rising, UNKNOWN]
    rising, unknown = artists
    assert rising["name"] == listened.names[listened.rising]
    assert (rising["rank"], rising["plays"], rising["usual_plays"]) == (1, 30, 2.0)
    assert rising["score"] == pytest.approx(35 / 7, abs=1e-3)
    assert unknown["name"] is None  # plays of an artist the daily pipeline never published


def test_trending_before_anything_is_published_is_a_404_problem(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = settings_of(tmp_path_factory.mktemp("no-trending") / "home")
    use_cases.run(settings, dt=DT)
    with running(settings) as client:
        answer = client.get("/trending")
        page = client.get("/dashboard/listening")
        counted = client.get("/artists/anyone/plays")
        not_yet = ask(client, payload("trending"))
        use_cases.publish_trending(settings)  # no plays: an empty list
        nobody = ask(client, payload("요즘 뜨는 노래"))
        published_empty = client.get("/trending").json()
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert "no trending artists published yet" in answer.json()["detail"]
    # no plays table yet: empty answers, not errors
    assert page.status_code == 200
    assert "No plays in the last 24 hours." in page.text
    assert "No trending list published yet." in page.text
    assert (counted.status_code, counted.json()["total"]) == (200, 0)
    assert "Nothing is trending yet" in not_yet["template"]["outputs"][0]["simpleText"]["text"]
    assert (
        "평소보다 많이 재생되는 가수가 없어요"
        in nobody["template"]["outputs"][0]["simpleText"]["text"]
    )
    assert published_empty["artists"] == []


def test_before_any_run_the_listening_reads_are_unavailable(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    empty = settings_of(tmp_path_factory.mktemp("empty") / "home")
    with running(empty) as client:
        counted = client.get("/artists/anyone/plays")
        page = client.get("/dashboard/listening")
    assert counted.status_code == 503
    assert "nothing has been published yet" in counted.json()["detail"]
    assert str(empty.home) not in counted.text  # no server paths for clients
    assert page.status_code == 503 and "No data yet" in page.text


def test_an_artists_plays_per_hour(listened: Listened) -> None:
    start = (NOW - 3 * HOUR).replace(minute=0)
    answer = listened.client.get(
        f"/artists/{listened.rising}/plays",
        params={"from": start.isoformat(), "to": NOW.isoformat()},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["grain"] == "hour"
    assert body["total"] == 2 + 2 + 30  # hours 3 and 2 before NOW, and the last one's 30
    counts = {datetime.fromisoformat(c["start"]): c["plays"] for c in body["counts"]}
    last = (NOW - HOUR / 3).replace(minute=0)
    assert counts[last] == 30
    assert sum(counts.values()) == body["total"]


def test_an_artists_plays_per_day_by_default_range_and_naive_times(listened: Listened) -> None:
    # No from/to: the 24 hours before now, counted per hour: the plays placed 2 to 23 hours
    # before NOW (NOW is a little before now) and the 30 recent ones.
    recent = listened.client.get(f"/artists/{listened.rising}/plays").json()
    assert recent["grain"] == "hour"
    assert recent["total"] == 22 * 2 + 30
    # A week, with times without an offset (UTC): per day.
    start = (NOW - timedelta(days=7)).replace(tzinfo=None)
    week = listened.client.get(
        f"/artists/{listened.quiet}/plays",
        params={"from": start.isoformat(), "to": (NOW + HOUR).replace(tzinfo=None).isoformat()},
    ).json()
    assert week["grain"] == "day"
    assert week["total"] == 1
    assert week["counts"][0]["start"].endswith("T00:00:00Z")


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"from": "2026-12-05T10:00:00Z", "to": "2026-12-05T09:00:00Z"}, 400, "must be before"),
        ({"from": "2026-12-05T10:00:00Z", "to": "2026-12-05T10:00:00Z"}, 400, "must be before"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, 400, "longer than 92"),
        ({"from": "yesterday"}, 422, "from"),
        # a bare number is not ISO 8601, though pydantic would read it as seconds since 1970
        ({"to": "0.5"}, 422, "ISO 8601"),
        ({"from": "1700000000"}, 422, "ISO 8601"),
    ],
)
def test_bad_ranges_are_problems(
    listened: Listened, params: dict[str, str], status: int, detail: str
) -> None:
    answer = listened.client.get(f"/artists/{listened.rising}/plays", params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_the_listening_page_shows_plays_top_and_trending_and_reloads_itself(
    listened: Listened,
) -> None:
    page = listened.client.get("/dashboard/listening")
    assert page.status_code == 200
    assert page.headers["Refresh"] == "30"
    html = page.text
    assert '<figure id="plays-chart"><svg' in html
    trending_table = html[html.index('id="trending"') : html.index('id="top-artists"')]
    assert listened.names[listened.rising] in trending_table
    assert listened.names[listened.steady] not in trending_table
    top_table = html[html.index('id="top-artists"') :]
    # most played over 24 hours: steady (8 * 22 + 8), then rising (2 * 22 + 30), then UNKNOWN
    assert top_table.index(listened.names[listened.steady]) < top_table.index(
        listened.names[listened.rising]
    )
    assert UNKNOWN in top_table
    assert '<a href="/dashboard/listening">Listening</a>' in html


@pytest.mark.parametrize(
    "utterance", ["trending", "What's trending?", "요즘 뜨는 노래", "요즘 뜨는 가수 알려줘"]
)
def test_the_chatbot_answers_trending_with_a_carousel(listened: Listened, utterance: str) -> None:
    answer = ask(listened.client, payload(utterance))
    (output,) = answer["template"]["outputs"]
    cards = output["carousel"]["items"]
    assert [c["title"] for c in cards] == [listened.names[listened.rising], UNKNOWN]
    # answered in the utterance's language
    plays = "재생 30회" if utterance.startswith("요즘") else "30 plays"
    assert plays in cards[0]["description"]
    assert cards[0]["buttons"][0]["webLinkUrl"].endswith(f"/dashboard/artists/{listened.rising}")


def test_closed_reads_close_the_listening_routes_too(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    token = "tok-listening"
    settings = settings_of(
        tmp_path_factory.mktemp("closed") / "home", api_token=token, api_public_reads=False
    )
    use_cases.run(settings, dt=DT)
    with running(settings) as client:
        for path in ("/trending", "/artists/x/plays", "/dashboard/listening"):
            assert client.get(path).status_code == 401, path
        allowed = client.get("/artists/x/plays", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200


@pytest.mark.parametrize(
    ("utterance", "trending"),
    [
        ("trending", True),
        ("What's trending now?", True),
        ("what is trending", True),
        ("요즘 뜨는 노래", True),
        ("요즘 인기 있는 가수", True),
        ("hot", False),  # a bare name: the artist called Hot
        ("Trending Topics", False),
        ("artists like Trending", False),
    ],
)
def test_which_utterances_ask_for_trending(utterance: str, trending: bool) -> None:
    assert asks_trending(utterance) is trending
