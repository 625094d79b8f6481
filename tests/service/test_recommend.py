"""Similarity by method and listener recommendations: the publish step writes every
method's neighbours into the serving documents once the lake holds plays; the API serves
them (`/artists/{id}/similar?by=`, `/users/{id}/recommendations`), so does the CLI."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tests.plays_table import append_plays, plays
from tests.service.conftest import DT, running, settings_of
from tests.service.test_chat import ask, outputs, payload
from tunelake import app as use_cases
from tunelake.cli import app as cli_app
from tunelake.config import Settings
from tunelake.pipeline.resources import lake_of, reading_serving

GROUPS = 3


@dataclass(frozen=True)
class Listened:
    settings: Settings
    home: Path
    client: httpx.Client
    group: dict[str, int]
    """artist -> the taste group its listeners come from"""
    played: dict[str, set[str]]


def _taste_plays(ids: list[str]) -> tuple[pa.Table, dict[str, int], dict[str, set[str]]]:
    """90 users; user u plays 8 of the artists of group u % 3 (artists split by id order),
    so that every artist has 20+ listeners, all from one group."""
    group = {a: i % GROUPS for i, a in enumerate(ids)}
    members = [[a for a in ids if group[a] == g] for g in range(GROUPS)]
    at = datetime.now(UTC) - timedelta(hours=2)
    rows, users, played = [], [], {}
    for u in range(90):
        mine = members[u % GROUPS]
        chosen = [mine[(u // GROUPS + j) % len(mine)] for j in range(8)]
        played[f"user-{u}"] = set(chosen)
        for j, a in enumerate(chosen):
            for _ in range(1 + (u + j) % 3):
                rows.append((a, at))
                users.append(f"user-{u}")
    table = plays(rows)
    index = table.schema.get_field_index("user_id")
    table = table.set_column(index, table.schema.field(index), pa.array(users, pa.string()))
    return table, group, played


@pytest.fixture(scope="module")
def listened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listened]:
    home = tmp_path_factory.mktemp("recommend") / "home"
    settings = settings_of(home)
    use_cases.run(settings, dt=DT)
    lake = lake_of(settings)
    artists = lake.read_partition("artists", DT)
    assert artists is not None
    ids = sorted(artists["artist_id"].to_pylist())
    with reading_serving(settings) as store:
        before = store.get(ids[0])
    # no plays yet: the audio neighbours only, and related_artists are the run's own
    assert set(before["related_by"]) == {"audio"}
    assert [r["artist_id"] for r in before["related_artists"]] == [
        r["artist_id"] for r in before["related_by"]["audio"]
    ]
    table, group, played = _taste_plays(ids)
    append_plays(lake, table)
    use_cases.run(settings, dt=DT)  # the same dt again: re-published with the plays
    with running(settings) as client:
        yield Listened(settings, home, client, group, played)


def test_documents_carry_every_method_and_related_is_the_hybrid(listened: Listened) -> None:
    some = min(listened.group)
    with reading_serving(listened.settings) as store:
        doc = store.get(some)
    assert set(doc["related_by"]) == {"audio", "listening", "hybrid"}
    hybrid = doc["related_by"]["hybrid"]
    assert [r["artist_id"] for r in doc["related_artists"]] == [r["artist_id"] for r in hybrid]
    listening = doc["related_by"]["listening"]
    assert len(listening) == 10
    # co-listening only links artists of the same taste group
    assert all(listened.group[r["artist_id"]] == listened.group[some] for r in listening)
    assert [r["rank"] for r in listening] == list(range(1, 11))
    assert all(0 < r["score"] <= 1 for r in listening + hybrid)


def test_similar_by_method(listened: Listened) -> None:
    some = min(listened.group)
    by = {}
    for method in ("audio", "listening", "hybrid"):
        answer = listened.client.get(f"/artists/{some}/similar", params={"by": method})
        assert answer.status_code == 200, answer.text
        by[method] = [r["artist_id"] for r in answer.json()]
    assert by["listening"] != by["audio"]
    default = listened.client.get(f"/artists/{some}/similar").json()
    assert [r["artist_id"] for r in default] == by["hybrid"]
    bad = listened.client.get(f"/artists/{some}/similar", params={"by": "mood"})
    assert bad.status_code == 422


def test_user_recommendations(listened: Listened) -> None:
    user = "user-4"
    answer = listened.client.get(f"/users/{user}/recommendations", params={"limit": 5})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["method"] == "hybrid" and body["played_artists"] == 8
    got = body["artists"]
    assert [r["rank"] for r in got] == [1, 2, 3, 4, 5]
    ids = [r["artist_id"] for r in got]
    assert not set(ids) & listened.played[user]  # never what the user played
    assert all(r["name"] for r in got)
    scored = [r for r in got if r["score"] > 0]
    assert scored and all(r["because"] for r in scored)
    assert all({b["artist_id"] for b in r["because"]} <= listened.played[user] for r in scored)
    assert all(b["name"] for r in scored for b in r["because"])
    by_listening = listened.client.get(
        f"/users/{user}/recommendations", params={"by": "listening"}
    ).json()
    # listening recommends from the user's own taste group
    assert all(
        listened.group[r["artist_id"]] == 4 % GROUPS
        for r in by_listening["artists"]
        if r["score"] > 0
    )


def test_unknown_user_and_bad_parameters(listened: Listened) -> None:
    assert listened.client.get("/users/nobody/recommendations").status_code == 404
    assert listened.client.get("/users/user-1/recommendations?limit=0").status_code == 422
    assert listened.client.get("/users/user-1/recommendations?by=x").status_code == 422


def test_cli_recommend(listened: Listened) -> None:
    cli = CliRunner()
    got = cli.invoke(cli_app, ["recommend", "--user", "user-4", "--home", str(listened.home)])
    assert got.exit_code == 0, got.output
    assert got.output.startswith("user-4: 8 artists played")
    assert got.output.count("\n") == 11
    args = ["recommend", "--user", "user-4", "--home", str(listened.home), "--format"]
    rows = json.loads(cli.invoke(cli_app, [*args, "json"]).stdout)
    assert [r["rank"] for r in rows] == list(range(1, 11)) and isinstance(rows[0]["score"], float)
    as_csv = list(csv.DictReader(io.StringIO(cli.invoke(cli_app, [*args, "csv"]).stdout)))
    assert [r["artist_id"] for r in as_csv] == [r["artist_id"] for r in rows]
    missing = cli.invoke(cli_app, ["recommend", "--user", "ghost", "--home", str(listened.home)])
    assert missing.exit_code == 1 and "no plays of user 'ghost'" in missing.output


@pytest.mark.slow  # one more pipeline run
def test_configured_audio_keeps_the_audio_list(listened: Listened) -> None:
    settings = settings_of(listened.home, similarity_method="audio")
    use_cases.run(settings, dt=DT)
    some = min(listened.group)
    with reading_serving(settings) as store:
        doc = store.get(some)
    assert [r["artist_id"] for r in doc["related_artists"]] == [
        r["artist_id"] for r in doc["related_by"]["audio"]
    ]
    assert "hybrid" in doc["related_by"]
    hybrid = [r["artist_id"] for r in doc["related_by"]["hybrid"]]
    assert hybrid[:5] != [r["artist_id"] for r in doc["related_artists"]][:5]
    # the chatbot and the dashboard show the hybrid all the same
    with running(settings) as client:
        reply = ask(client, payload(f"artists like {doc['name']}"))
        cards = outputs(reply)["carousel"]["items"]
        assert [c["buttons"][0]["webLinkUrl"].rsplit("/", 1)[-1] for c in cards] == hybrid[
            : len(cards)
        ]
        page = client.get(f"/dashboard/artists/{some}")
        assert page.status_code == 200
        table = page.text[page.text.index('id="neighbours"') :]
        table = table[: table.index("</table>")]
        names = [html.escape(r["name"]) for r in doc["related_by"]["hybrid"][:2]]
        assert table.index(names[0]) < table.index(names[1])
