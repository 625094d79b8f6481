"""The Kakao i Open Builder skill, with requests in Kakao's SkillPayload format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import settings_of
from tunelake.pipeline.resources import reading_warehouse
from tunelake.service.chat import artist_named


def payload(utterance: Any) -> dict[str, Any]:
    """A skill request as Open Builder sends it."""
    return {
        "intent": {"id": "5a56ec0008cc1461d75291f6", "name": "artists like"},
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"ignoreMe": "true"},
            "block": {"id": "5a56ec0008cc1461d75291f6", "name": "artists like"},
            "utterance": utterance,
            "lang": "ko",
            "user": {"id": "620678", "type": "botUserKey", "properties": {}},
        },
        "bot": {"id": "5a548e36aea1a43fa851ecd9", "name": "tunelake"},
        "action": {
            "name": "similar",
            "clientExtra": None,
            "params": {},
            "id": "x",
            "detailParams": {},
        },
    }


def ask(client: httpx.Client, body: Any) -> dict[str, Any]:
    answer = client.post("/chat/kakao", json=body)
    assert answer.status_code == 200, answer.text
    reply: dict[str, Any] = answer.json()
    assert reply["version"] == "2.0"
    return reply


def outputs(reply: dict[str, Any]) -> dict[str, Any]:
    return {kind: body for output in reply["template"]["outputs"] for kind, body in output.items()}


@pytest.fixture(scope="module")
def artists(published: Path) -> list[dict[str, Any]]:
    with reading_warehouse(settings_of(published)) as warehouse:
        return warehouse.read("artists").select(["artist_id", "name"]).to_pylist()


def check_artist_reply(reply: dict[str, Any], artist: dict[str, Any], base_url: str) -> None:
    shown = outputs(reply)
    assert list(shown) == ["basicCard", "listCard", "carousel"]  # Kakao allows 3 outputs
    card = shown["basicCard"]
    assert card["title"] == artist["name"]
    assert card["thumbnail"]["imageUrl"].startswith("https://")
    link = f"{base_url}/dashboard/artists/{artist['artist_id']}"
    assert card["buttons"][0] == {"action": "webLink", "label": "Open", "webLinkUrl": link}
    tracks = shown["listCard"]
    assert tracks["header"]["title"].endswith(artist["name"])
    assert 1 <= len(tracks["items"]) <= 5 and all(i["title"] for i in tracks["items"])
    carousel = shown["carousel"]
    assert carousel["type"] == "basicCard" and 1 <= len(carousel["items"]) <= 10
    neighbours = [c["title"] for c in carousel["items"]]
    replies = reply["template"]["quickReplies"]
    assert [r["messageText"] for r in replies] == [f"artists like {n}" for n in neighbours[:3]]
    assert all(len(r["label"]) <= 14 and r["action"] == "message" for r in replies)


def test_a_known_artist(client: httpx.Client, artists: list[dict[str, Any]]) -> None:
    artist = next(a for a in artists if a["name"].isascii() and " " in a["name"])
    reply = ask(client, payload(f"artists like {artist['name'].upper()}"))
    check_artist_reply(reply, artist, str(client.base_url).rstrip("/"))


def test_a_korean_name(client: httpx.Client, artists: list[dict[str, Any]]) -> None:
    artist = next(a for a in artists if any("\uac00" <= c <= "\ud7a3" for c in a["name"]))
    reply = ask(client, payload(f"{artist['name']} 같은 가수 추천해줘"))
    check_artist_reply(reply, artist, str(client.base_url).rstrip("/"))
    # full-width spacing and a bare name match too, as `tunelake similar` matches
    bare = ask(client, payload(f"\u3000{artist['name']} "))
    assert outputs(bare)["basicCard"]["title"] == artist["name"]


def test_an_unknown_artist_is_queued(client: httpx.Client, published: Path) -> None:
    reply = ask(client, payload("artists like Nobody We Know"))

    (text,) = [o["simpleText"]["text"] for o in reply["template"]["outputs"]]
    assert "Nobody We Know" in text and "queued" in text
    with reading_warehouse(settings_of(published)) as warehouse:
        pending = warehouse.pending_ingest_requests()
    assert [(r["query"], r["source"]) for r in pending if r["query"] == "Nobody We Know"] == [
        ("Nobody We Know", "chat")
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"userRequest": {}}',
        b'{"userRequest": {"utterance": 42}}',
        b'{"userRequest": {"utterance": "   "}}',
        b"\xff\xfe",
    ],
)
def test_a_malformed_request_gets_a_skill_response(client: httpx.Client, body: bytes) -> None:
    answer = client.post("/chat/kakao", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    reply = answer.json()
    assert reply["version"] == "2.0"
    (text,) = [o["simpleText"]["text"] for o in reply["template"]["outputs"]]
    assert text


@pytest.mark.parametrize(
    ("utterance", "name"),
    [
        ("artists like Sigur Rós", "Sigur Rós"),
        ("similar to  the  Beatles", "the Beatles"),
        ("아이유 같은 가수", "아이유"),
        ("아이유랑 비슷한 아티스트 추천해줘", "아이유"),
        ("블랙핑크", "블랙핑크"),
    ],
)
def test_the_artist_is_read_out_of_the_utterance(utterance: str, name: str) -> None:
    assert artist_named(utterance) == name
