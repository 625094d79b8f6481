"""The chatbot skill: a Kakao i Open Builder skill server endpoint ("artists like X").

Kakao POSTs a SkillPayload (`userRequest.utterance` is what the listener typed); the answer
is a SkillResponse of version "2.0": a basicCard for the artist (image, link to its dashboard
page), a listCard of its top tracks, a carousel of its nearest artists, and quickReplies to
ask about those, in the utterance's language (Korean or English). Names match as `tunelake
similar` matches them: the same use case. An unknown artist may be queued as an ingest
request (`TUNELAKE_CHAT_INGESTS`: off, queue, or review), within hourly limits per chat user
and in all: the skill is public, and every request it queues is a run's work. A request that
cannot be read gets a skill response saying so, never an HTTP error (the platform would
show the listener nothing).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from limits import RateLimitItemPerHour, storage, strategies
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from tunelake import app as use_cases
from tunelake.config import Settings
from tunelake.errors import InputError, NotFound, TunelakeError
from tunelake.listening import Trending
from tunelake.models import ArtistDocument, RelatedArtist
from tunelake.observability import one_line
from tunelake.recommendations import hybrid_view
from tunelake.service import links
from tunelake.service.security import Guard
from tunelake.service.state import Service

log = structlog.get_logger("tunelake.chat")

# Kakao's bounds on a skill response
LIST_ITEMS = 5
CAROUSEL_ITEMS = 10
QUICK_REPLIES = 3
LABEL_CHARS = 14
DESCRIPTION_CHARS = 230
MAX_UTTERANCE = use_cases.MAX_QUERY_LENGTH * 2
"""An artist name and the words around it; a longer utterance is not a question about one."""

# "artists like X", "similar to X", "X 같은 가수", "X랑 비슷한 아티스트 추천": the artist is X.
_ASKS = (
    re.compile(r"^(?:artists?|music|bands?|singers?)\s+(?:like|similar to)\s+(?P<name>.+)$", re.I),
    re.compile(r"^(?:like|similar to)\s+(?P<name>.+)$", re.I),
    re.compile(
        r"^(?P<name>.+?)\s*(?:(?:와|과|랑|이랑|하고)\s*)?(?:같은|비슷한)\s*"
        r"(?:가수|아티스트|음악|노래)?\s*(?:추천(?:해\s*줘|해줘)?)?\s*$"
    ),
)
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")

Language = Literal["en", "ko"]

# What the skill says, per language. Korean attaches 은(는)/이(가) by the last syllable in
# real speech; "(은)는"-style forms are what Korean software writes for any name.
SAYS: dict[Language, dict[str, str]] = {
    "en": {
        "not_json": "I could not read that request: it is not JSON.",
        "unreadable": "I could not read that request: a skill request needs userRequest.utterance.",
        "too_long": (
            "That message is too long ({length} characters; at most {limit}): ask me about "
            "one artist, e.g. artists like {example}."
        ),
        "bad_name": "{error}. Try: artists like {example}.",
        "unknown": "I don't know {name} yet.",
        "queue": (
            "I don't know {name} yet. I have queued it (request {request}); ask me again "
            "after the next run."
        ),
        "review": (
            "I don't know {name} yet. I have asked for it (request {request}); once it is "
            "approved, ask me again after the next run."
        ),
        "limited": "I don't know {name} yet, and I cannot take more requests now; try later.",
        "down": "I cannot look artists up right now; please try again in a moment.",
        "open": "Open",
        "top_tracks": "Top tracks of {name}",
        "ask": "artists like {name}",
        "popularity": "popularity {popularity}",
        "namesakes": "{others} other artist(s) share this name",
        "trending_card": "#{rank} · {plays} plays in the last {minutes} min ({score:.1f} times usual)",
        "trending_quiet": "Nobody is trending right now: no artist is played above its usual rate.",
        "trending_none": "Nothing is trending yet: no plays have been counted.",
    },
    "ko": {
        "not_json": "요청을 읽을 수 없어요: JSON이 아니에요.",
        "unreadable": "요청을 읽을 수 없어요: 스킬 요청에는 userRequest.utterance가 필요해요.",
        "too_long": (
            "메시지가 너무 길어요 ({length}자, 최대 {limit}자). 가수 한 명만 물어봐 주세요. "
            "예: {example} 같은 가수"
        ),
        "bad_name": "가수 이름을 알려 주세요. 예: {example} 같은 가수",
        "unknown": "{name}(은)는 아직 몰라요.",
        "queue": (
            "{name}(은)는 아직 몰라요. 추가 요청을 등록했어요 (요청 {request}). "
            "다음 업데이트 후에 다시 물어봐 주세요."
        ),
        "review": (
            "{name}(은)는 아직 몰라요. 추가 요청을 등록했고 검토를 기다리고 있어요 "
            "(요청 {request}). 승인되면 다음 업데이트 후에 다시 물어봐 주세요."
        ),
        "limited": "{name}(은)는 아직 몰라요. 지금은 요청을 더 받을 수 없어요. 나중에 다시 해 주세요.",
        "down": "지금은 가수를 찾을 수 없어요. 잠시 후에 다시 물어봐 주세요.",
        "open": "열기",
        "top_tracks": "{name}의 인기곡",
        "ask": "{name} 같은 가수",
        "popularity": "인기도 {popularity}",
        "namesakes": "같은 이름의 가수 {others}명 더",
        "trending_card": "{rank}위 · 최근 {minutes}분 재생 {plays}회 (평소의 {score:.1f}배)",
        "trending_quiet": "지금은 평소보다 많이 재생되는 가수가 없어요.",
        "trending_none": "아직 뜨는 가수가 없어요: 집계된 재생 기록이 없어요.",
    },
}
EXAMPLE: dict[Language, str] = {"en": "<name>", "ko": "아이유"}


def language_of(utterance: object) -> Language:
    """Korean when the utterance holds Hangul, else English."""
    return "ko" if isinstance(utterance, str) and _HANGUL.search(utterance) else "en"


class KakaoUser(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(max_length=MAX_UTTERANCE)


# "trending", "what's trending?", "요즘 뜨는 노래": the trending artists, as a carousel. Not
# "hot" alone: a bare name asks for that artist, and an artist may be called Hot.
_TRENDING = re.compile(
    r"^(?:what(?:'s|\s+is)\s+)?trending(?:\s+(?:now|artists?|songs?|music))?\s*\??$"
    r"|요즘\s*(?:뜨는|인기\s*있는|핫한)",
    re.I,
)


class UserRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    utterance: str = Field(max_length=MAX_UTTERANCE)
    user: KakaoUser | None = None


class SkillPayload(BaseModel):
    """What Kakao sends; only the utterance and the user's id are read, the rest (bot,
    intent, action) kept."""

    model_config = ConfigDict(extra="allow")
    userRequest: UserRequest


class IngestQuota:
    """How many ingest requests the chat may still queue: per chat user and in all, each in
    a moving one-hour window (limits settings are read per call: a test may change them)."""

    def __init__(self) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def take(self, settings: Settings, user: str) -> bool:
        """Whether this user may queue one more now; True counts it against both limits."""
        each = RateLimitItemPerHour(settings.chat_ingests_per_user)
        total = RateLimitItemPerHour(settings.chat_ingests_per_hour)
        if not (self._limiter.test(each, "user", user) and self._limiter.test(total, "all")):
            return False
        return self._limiter.hit(each, "user", user) and self._limiter.hit(total, "all")


def artist_named(utterance: str) -> str:
    text = " ".join(utterance.split())
    for ask in _ASKS:
        match = ask.match(text)
        if match and match["name"].strip():
            return match["name"].strip()
    return text


def label(name: str) -> str:
    """A quick-reply label of at most LABEL_CHARS, cut at a word boundary when it can be."""
    if len(name) <= LABEL_CHARS:
        return name
    cut = name[: LABEL_CHARS - 1]
    if " " in cut.strip():
        cut = cut.rstrip()[: cut.rstrip().rindex(" ")]
    return cut.rstrip() + "…"


def _text(message: str, replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {"outputs": [{"simpleText": {"text": message}}]}
    if replies:
        template["quickReplies"] = replies
    return {"version": "2.0", "template": template}


def _card(
    links_to: _Links,
    says: dict[str, str],
    title: str,
    description: str,
    image: str | None,
    artist_id: str,
) -> dict[str, Any]:
    link = links_to.page(artist_id)
    return {
        "title": title,
        "description": description[:DESCRIPTION_CHARS],
        "thumbnail": {"imageUrl": links_to.image(image), "link": {"web": link}},
        "buttons": [{"action": "webLink", "label": says["open"], "webLinkUrl": link}],
    }


def _ask(says: dict[str, str], name: str) -> dict[str, Any]:
    """A quick reply that asks for the artists like `name`."""
    return {"label": label(name), "action": "message", "messageText": says["ask"].format(name=name)}


def answer(
    doc: ArtistDocument, links_to: _Links, lang: Language = "en", others: int = 0
) -> dict[str, Any]:
    """The skill response for a known artist (`others`: more artists share its name)."""
    says = SAYS[lang]

    def card(title: str, description: str, image: str | None, artist_id: str) -> dict[str, Any]:
        return _card(links_to, says, title, description, image, artist_id)

    about = [", ".join(doc.genres or ())]
    if doc.popularity:
        about.append(says["popularity"].format(popularity=doc.popularity))
    if others:
        about.append(says["namesakes"].format(others=others))
    description = " · ".join(a for a in about if a)
    outputs: list[dict[str, Any]] = [
        {"basicCard": card(doc.name, description, doc.image_url, doc.artist_id)}
    ]
    if doc.top_tracks:
        items = [
            {
                "title": t.name,
                "description": " · ".join(x for x in (t.album_name, t.release_date) if x),
                "link": {"web": links_to.page(doc.artist_id)},
            }
            for t in doc.top_tracks[:LIST_ITEMS]
        ]
        header = {"title": says["top_tracks"].format(name=doc.name)}
        outputs.append({"listCard": {"header": header, "items": items}})
    # the hybrid neighbours (listening + audio + genres) when published
    neighbours: tuple[RelatedArtist, ...] = hybrid_view(doc).related_artists[:CAROUSEL_ITEMS]
    if neighbours:
        cards = [
            card(r.name, f"#{r.rank} · {r.distance:.3f}", r.image_url, r.artist_id)
            for r in neighbours
        ]
        outputs.append({"carousel": {"type": "basicCard", "items": cards}})
    replies = [_ask(says, r.name) for r in neighbours[:QUICK_REPLIES]]
    return {"version": "2.0", "template": {"outputs": outputs, "quickReplies": replies}}


def asks_trending(utterance: str) -> bool:
    return _TRENDING.search(" ".join(utterance.split())) is not None


def trending_answer(trending: Trending, links_to: _Links, lang: Language = "en") -> dict[str, Any]:
    """The trending artists as a carousel of cards linked to their pages."""
    says = SAYS[lang]
    cards = [
        _card(
            links_to,
            says,
            a.name or a.artist_id,
            says["trending_card"].format(
                rank=a.rank, plays=a.plays, minutes=trending.window_minutes, score=a.score
            ),
            a.image_url,
            a.artist_id,
        )
        for a in trending.artists[:CAROUSEL_ITEMS]
    ]
    if not cards:
        return _text(says["trending_quiet"])
    replies = [_ask(says, a.name) for a in trending.artists[:QUICK_REPLIES] if a.name]
    return {
        "version": "2.0",
        "template": {
            "outputs": [{"carousel": {"type": "basicCard", "items": cards}}],
            "quickReplies": replies,
        },
    }


class _Links:
    """Where a card points: the artist's dashboard page, and an image that loads."""

    def __init__(self, settings: Settings, request_base: str) -> None:
        self.settings = settings
        self.base = links.base_url(settings, request_base)

    def page(self, artist_id: str) -> str:
        return f"{self.base}dashboard/artists/{artist_id}"

    def image(self, url: str | None) -> str:
        return links.image_url(self.settings, url, self.base)


def _utterance_of(body: Any) -> object:
    """The utterance of a request that may not be a skill request: for its language."""
    user_request = body.get("userRequest") if isinstance(body, dict) else None
    return user_request.get("utterance") if isinstance(user_request, dict) else None


def _unreadable(body: Any, error: ValidationError) -> dict[str, Any]:
    utterance = _utterance_of(body)
    lang = language_of(utterance)
    too_long = any(
        e["type"] == "string_too_long" and e["loc"] == ("userRequest", "utterance")
        for e in error.errors()
    )
    if too_long and isinstance(utterance, str):
        return _text(
            SAYS[lang]["too_long"].format(
                length=len(utterance), limit=MAX_UTTERANCE, example=EXAMPLE[lang]
            )
        )
    return _text(SAYS[lang]["unreadable"])


def reply(svc: Service, quota: IngestQuota, body: Any, request_base: str) -> dict[str, Any]:
    try:
        payload = SkillPayload.model_validate(body)
    except ValidationError as exc:
        return _unreadable(body, exc)
    utterance = payload.userRequest.utterance
    lang = language_of(utterance)
    says = SAYS[lang]
    if asks_trending(utterance):
        try:
            trending = use_cases.trending_artists(svc.settings, store=svc.serving())
        except NotFound:
            return _text(says["trending_none"])
        return trending_answer(trending, _Links(svc.settings, request_base), lang)
    name = artist_named(utterance)
    try:
        found = use_cases.similar(svc.settings, name, store=svc.serving())
    except InputError as exc:
        return _text(says["bad_name"].format(error=exc, example=EXAMPLE[lang]))
    except NotFound:
        return _unknown(svc, quota, payload, name, lang)
    return answer(found[0], _Links(svc.settings, request_base), lang, others=len(found) - 1)


def _unknown(
    svc: Service, quota: IngestQuota, payload: SkillPayload, name: str, lang: Language
) -> dict[str, Any]:
    mode, says = svc.settings.chat_ingests, SAYS[lang]
    if mode == "off":
        return _text(says["unknown"].format(name=name))
    user = payload.userRequest.user.id if payload.userRequest.user else "(anonymous)"
    if not quota.take(svc.settings, user):
        log.warning("chat ingest refused: over its hourly limit")
        return _text(says["limited"].format(name=name))
    (queued,) = use_cases.request_ingest(
        svc.settings, [name], source="chat", review=mode == "review"
    )
    return _text(says[mode].format(name=name, request=queued.request_id))


def router(read: Guard) -> APIRouter:
    chat = APIRouter(tags=["chatbot"])
    quota = IngestQuota()

    @chat.post("/chat/kakao", dependencies=[Depends(read)])
    async def kakao_skill(request: Request) -> dict[str, Any]:
        """A Kakao i Open Builder skill: SkillPayload in, SkillResponse (version 2.0) out."""
        svc: Service = request.app.state.service
        try:
            body = await request.json()
        except ValueError:
            return _text(SAYS["en"]["not_json"])
        try:
            return await run_in_threadpool(reply, svc, quota, body, str(request.base_url))
        except TunelakeError as exc:
            log.error("chat reply failed", error=one_line(exc), exc_info=exc)
            return _text(SAYS[language_of(_utterance_of(body))]["down"])

    @chat.get(links.PLACEHOLDER_PATH, include_in_schema=False)
    async def placeholder() -> Response:
        """The image of an artist whose own image cannot load (cards need one)."""
        headers = {"Cache-Control": "public, max-age=86400"}
        return Response(links.PLACEHOLDER_PNG, media_type="image/png", headers=headers)

    return chat
