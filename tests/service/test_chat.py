"""The Kakao i Open Builder skill, with requests in Kakao's SkillPayload format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import TOKEN, running, settings_of
from tunelake.errors import ConfigError
from tunelake.pipeline.resources import reading_warehouse
from tunelake.service.chat import artist_named, label

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def payload(utterance: Any, user: str = "620678") -> dict[str, Any]:
    """A skill request as Open Builder sends it."""
    return {
        "intent": {"id": "5a56ec0008cc1461d75291f6", "name": "artists like"},
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"ignoreMe": "true"},
            "block": {"id": "5a56ec0008cc1461d75291f6", "name": "artists like"},
            "utterance": utterance,
            "lang": "ko",
            "user": {"id": user, "type": "botUserKey", "properties": {}},
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


ENGLISH = {"open": "Open", "header": "Top tracks of {}", "ask": "artists like {}"}
KOREAN = {"open": "열기", "header": "{}의 인기곡", "ask": "{} 같은 가수"}


def check_artist_reply(
    reply: dict[str, Any], artist: dict[str, Any], base_url: str, says: dict[str, str] = ENGLISH
) -> None:
    shown = outputs(reply)
    assert list(shown) == ["basicCard", "listCard", "carousel"]  # Kakao allows 3 outputs
    card = shown["basicCard"]
    assert card["title"] == artist["name"]
    # the generated catalog's image URLs name no real image: the service's placeholder
    assert card["thumbnail"]["imageUrl"] == f"{base_url}/images/artist.png"
    link = f"{base_url}/dashboard/artists/{artist['artist_id']}"
    assert card["buttons"][0] == {"action": "webLink", "label": says["open"], "webLinkUrl": link}
    tracks = shown["listCard"]
    assert tracks["header"]["title"] == says["header"].format(artist["name"])
    assert 1 <= len(tracks["items"]) <= 5 and all(i["title"] for i in tracks["items"])
    carousel = shown["carousel"]
    assert carousel["type"] == "basicCard" and 1 <= len(carousel["items"]) <= 10
    neighbours = [c["title"] for c in carousel["items"]]
    replies = reply["template"]["quickReplies"]
    assert [r["messageText"] for r in replies] == [says["ask"].format(n) for n in neighbours[:3]]
    assert all(len(r["label"]) <= 14 and r["action"] == "message" for r in replies)


def test_a_known_artist(client: httpx.Client, artists: list[dict[str, Any]]) -> None:
    artist = next(a for a in artists if a["name"].isascii() and " " in a["name"])
    reply = ask(client, payload(f"artists like {artist['name'].upper()}"))
    check_artist_reply(reply, artist, str(client.base_url).rstrip("/"))


def test_the_placeholder_image_loads(client: httpx.Client) -> None:
    image = client.get("/images/artist.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n")


def test_a_korean_name_is_answered_in_korean(
    client: httpx.Client, artists: list[dict[str, Any]]
) -> None:
    artist = next(a for a in artists if any("\uac00" <= c <= "\ud7a3" for c in a["name"]))
    reply = ask(client, payload(f"{artist['name']} 같은 가수 추천해줘"))
    check_artist_reply(reply, artist, str(client.base_url).rstrip("/"), KOREAN)
    # full-width spacing and a bare name match too, as `tunelake similar` matches
    bare = ask(client, payload(f"\u3000{artist['name']} "))
    assert outputs(bare)["basicCard"]["title"] == artist["name"]


def test_an_english_name_asked_in_korean_is_answered_in_korean(
    client: httpx.Client, artists: list[dict[str, Any]]
) -> None:
    artist = next(a for a in artists if a["name"].isascii() and " " in a["name"])
    reply = ask(client, payload(f"{artist['name']} 같은 가수"))
    check_artist_reply(reply, artist, str(client.base_url).rstrip("/"), KOREAN)


def test_links_leave_the_machine_by_the_public_base_url(
    published: Path, artists: list[dict[str, Any]]
) -> None:
    public = "https://tunes.example.org/tunelake"
    artist = next(a for a in artists if a["name"].isascii())
    with running(settings_of(published, public_base_url=public + "/")) as client:
        reply = ask(client, payload(f"artists like {artist['name']}"))
    check_artist_reply(reply, artist, public)
    carousel = outputs(reply)["carousel"]["items"]
    assert all(c["buttons"][0]["webLinkUrl"].startswith(f"{public}/dashboard/") for c in carousel)


def only_text(reply: dict[str, Any]) -> str:
    (text,) = [o["simpleText"]["text"] for o in reply["template"]["outputs"]]
    return str(text)


def requests_for(home: Path, query: str) -> list[tuple[str, str]]:
    with reading_warehouse(settings_of(home)) as warehouse:
        rows = warehouse.read("ingest_requests", {"query": query}).to_pylist()
    return [(r["source"], r["status"]) for r in rows]


def test_an_unknown_artist_waits_for_review_then_approval_queues_it(
    client: httpx.Client, published: Path
) -> None:
    text = only_text(ask(client, payload("artists like Nobody We Know")))
    assert "Nobody We Know" in text and "approved" in text
    assert requests_for(published, "Nobody We Know") == [("chat", "review")]
    (waiting,) = [
        r
        for r in client.get("/ingest-requests/in-review", headers=AUTH).json()
        if r["query"] == "Nobody We Know"
    ]
    approval = f"/ingest-requests/{waiting['request_id']}/approval"
    assert client.post(approval).status_code == 401  # approving is for the token holder
    approved = client.post(approval, headers=AUTH)
    assert approved.status_code == 200 and approved.json()["status"] == "pending"
    assert requests_for(published, "Nobody We Know") == [("chat", "pending")]
    # asking again in the chat does not queue it twice
    ask(client, payload("artists like nobody  we know"))
    assert requests_for(published, "Nobody We Know") == [("chat", "pending")]


def test_approving_what_is_not_waiting_is_refused(client: httpx.Client) -> None:
    assert client.post("/ingest-requests/999999/approval", headers=AUTH).status_code == 404
    assert client.get("/ingest-requests/in-review").status_code == 401  # not public


@pytest.mark.parametrize(("mode", "status"), [("queue", "pending"), ("off", None)])
def test_chat_ingests_can_be_queued_or_turned_off(
    published: Path, mode: str, status: str | None
) -> None:
    name = f"Unheard Of {mode}"
    with running(settings_of(published, chat_ingests=mode)) as client:
        text = only_text(ask(client, payload(f"artists like {name}")))
    assert name in text and ("queued" in text) == (status is not None)
    assert requests_for(published, name) == ([("chat", status)] if status else [])


def test_chat_ingests_are_limited_per_user_and_in_all(published: Path) -> None:
    limits = {"chat_ingests_per_user": 2, "chat_ingests_per_hour": 3}
    asked = [("ann", "Limit A1"), ("ann", "Limit A2"), ("ann", "Limit A3")]
    asked += [("bob", "Limit B1"), ("bob", "Limit B2"), ("cy", "Limit C1")]
    with running(settings_of(published, chat_ingests="queue", **limits)) as client:
        texts = [only_text(ask(client, payload(f"artists like {n}", user=u))) for u, n in asked]
    queued = [n for (_, n), text in zip(asked, texts, strict=True) if "queued" in text]
    assert queued == ["Limit A1", "Limit A2", "Limit B1"]  # ann's 3rd: hers; then the total
    assert all("cannot take more" in t for t in texts if "queued" not in t)
    for _, name in asked:
        assert requests_for(published, name) == ([("chat", "pending")] if name in queued else [])


def test_an_unknown_artist_in_korean_is_answered_in_korean(client: httpx.Client) -> None:
    text = only_text(ask(client, payload("없는가수랑 비슷한 아티스트 추천해줘", user="ko-user")))
    assert text.startswith("없는가수(은)는 아직 몰라요") and "검토" in text


def test_a_too_long_utterance_is_told_so(client: httpx.Client) -> None:
    text = only_text(ask(client, payload("la " * 5000)))  # 15 KB: under the body limit
    assert "too long" in text and "15000 characters" in text
    korean = only_text(ask(client, payload("가" * 5000)))
    assert "너무 길어요" in korean


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Blur", "Blur"),
        ("The Quiet Deserts", "The Quiet…"),
        ("Sigur Rós Orchestra", "Sigur Rós…"),
        ("Supercalifragilistic", "Supercalifrag…"),
        ("방탄소년단과 친구들의 노래들", "방탄소년단과 친구들의…"),
    ],
)
def test_quick_reply_labels_are_cut_at_a_word_boundary(name: str, shown: str) -> None:
    assert label(name) == shown and len(shown) <= 14


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


@pytest.mark.parametrize("url", ["not a url", "ftp://tunes.example.org", "https://", "https://a b"])
def test_a_public_base_url_is_an_http_url(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="public_base_url"):
        settings_of(tmp_path, public_base_url=url)
