"""The chatbot skill: a Kakao i Open Builder skill server endpoint ("artists like X").

Kakao POSTs a SkillPayload (`userRequest.utterance` is what the listener typed); the answer
is a SkillResponse of version "2.0": a basicCard for the artist (image, link to its dashboard
page), a listCard of its top tracks, a carousel of its nearest artists, and quickReplies to
ask about those. Names match as `tunelake similar` matches them: the same use case. An
unknown artist is queued as an ingest request; a request that cannot be read gets a skill
response saying so, never an HTTP error (the platform would show the listener nothing).
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from tunelake import app as use_cases
from tunelake.errors import InputError, NotFound, TunelakeError
from tunelake.listening import Trending
from tunelake.models import ArtistDocument, RelatedArtist
from tunelake.observability import one_line
from tunelake.service.security import Guard
from tunelake.service.state import Service

log = structlog.get_logger("tunelake.chat")

# Kakao's bounds on a skill response
LIST_ITEMS = 5
CAROUSEL_ITEMS = 10
QUICK_REPLIES = 3
LABEL_CHARS = 14
DESCRIPTION_CHARS = 230

# "artists like X", "similar to X", "X 같은 가수", "X랑 비슷한 아티스트 추천": the artist is X.
_ASKS = (
    re.compile(r"^(?:artists?|music|bands?|singers?)\s+(?:like|similar to)\s+(?P<name>.+)$", re.I),
    re.compile(r"^(?:like|similar to)\s+(?P<name>.+)$", re.I),
    re.compile(
        r"^(?P<name>.+?)\s*(?:(?:와|과|랑|이랑|하고)\s*)?(?:같은|비슷한)\s*"
        r"(?:가수|아티스트|음악|노래)?\s*(?:추천(?:해\s*줘|해줘)?)?\s*$"
    ),
)


# "trending", "what's trending?", "요즘 뜨는 노래": the trending artists, as a carousel. Not
# "hot" alone: a bare name asks for that artist, and an artist may be called Hot.
_TRENDING = re.compile(
    r"^(?:what(?:'s|\s+is)\s+)?trending(?:\s+(?:now|artists?|songs?|music))?\s*\??$"
    r"|요즘\s*(?:뜨는|인기\s*있는|핫한)",
    re.I,
)


class UserRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    utterance: str = Field(max_length=use_cases.MAX_QUERY_LENGTH * 2)


class SkillPayload(BaseModel):
    """What Kakao sends; only the utterance is read, the rest (bot, intent, action) kept."""

    model_config = ConfigDict(extra="allow")
    userRequest: UserRequest


def artist_named(utterance: str) -> str:
    text = " ".join(utterance.split())
    for ask in _ASKS:
        match = ask.match(text)
        if match and match["name"].strip():
            return match["name"].strip()
    return text


def _text(message: str, replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {"outputs": [{"simpleText": {"text": message}}]}
    if replies:
        template["quickReplies"] = replies
    return {"version": "2.0", "template": template}


def _ask_reply(name: str) -> dict[str, Any]:
    return {"label": name[:LABEL_CHARS], "action": "message", "messageText": f"artists like {name}"}


def _card(title: str, description: str, image_url: str | None, link: str) -> dict[str, Any]:
    card: dict[str, Any] = {
        "title": title,
        "description": description[:DESCRIPTION_CHARS],
        "buttons": [{"action": "webLink", "label": "Open", "webLinkUrl": link}],
    }
    if image_url:
        card["thumbnail"] = {"imageUrl": image_url, "link": {"web": link}}
    return card


def answer(doc: ArtistDocument, base_url: str, others: int = 0) -> dict[str, Any]:
    """The skill response for a known artist (`others`: more artists share its name)."""

    def page(artist_id: str) -> str:
        return f"{base_url}dashboard/artists/{artist_id}"

    about = [", ".join(doc.genres or ()), f"popularity {doc.popularity}" if doc.popularity else ""]
    if others:
        about.append(f"{others} other artist(s) share this name")
    outputs: list[dict[str, Any]] = [
        {
            "basicCard": _card(
                doc.name, " · ".join(a for a in about if a), doc.image_url, page(doc.artist_id)
            )
        }
    ]
    if doc.top_tracks:
        items = [
            {
                "title": t.name,
                "description": " · ".join(x for x in (t.album_name, t.release_date) if x),
                "link": {"web": page(doc.artist_id)},
            }
            for t in doc.top_tracks[:LIST_ITEMS]
        ]
        outputs.append(
            {"listCard": {"header": {"title": f"Top tracks of {doc.name}"}, "items": items}}
        )
    neighbours: tuple[RelatedArtist, ...] = doc.related_artists[:CAROUSEL_ITEMS]
    if neighbours:
        cards = [
            _card(r.name, f"#{r.rank} · distance {r.distance:.3f}", r.image_url, page(r.artist_id))
            for r in neighbours
        ]
        outputs.append({"carousel": {"type": "basicCard", "items": cards}})
    replies = [_ask_reply(r.name) for r in neighbours[:QUICK_REPLIES]]
    return {"version": "2.0", "template": {"outputs": outputs, "quickReplies": replies}}


def asks_trending(utterance: str) -> bool:
    return _TRENDING.search(" ".join(utterance.split())) is not None


def trending_answer(trending: Trending, base_url: str) -> dict[str, Any]:
    """The trending artists as a carousel of cards linked to their pages."""
    cards = [
        _card(
            a.name or a.artist_id,
            f"#{a.rank} · {a.plays} plays in the last {trending.window_minutes} min "
            f"({a.score:.1f} times usual)",
            a.image_url,
            f"{base_url}dashboard/artists/{a.artist_id}",
        )
        for a in trending.artists[:CAROUSEL_ITEMS]
    ]
    if not cards:
        return _text("Nobody is trending right now: no artist is played above its usual rate.")
    replies = [_ask_reply(a.name) for a in trending.artists[:QUICK_REPLIES] if a.name]
    return {
        "version": "2.0",
        "template": {
            "outputs": [{"carousel": {"type": "basicCard", "items": cards}}],
            "quickReplies": replies,
        },
    }


def reply(svc: Service, body: Any, base_url: str) -> dict[str, Any]:
    try:
        payload = SkillPayload.model_validate(body)
    except ValidationError:
        return _text("I could not read that request: a skill request needs userRequest.utterance.")
    if asks_trending(payload.userRequest.utterance):
        try:
            return trending_answer(
                use_cases.trending_artists(svc.settings, store=svc.serving()), base_url
            )
        except NotFound:
            return _text("Nothing is trending yet: no plays have been counted.")
    name = artist_named(payload.userRequest.utterance)
    try:
        found = use_cases.similar(svc.settings, name, store=svc.serving())
    except InputError as exc:
        return _text(f"{exc}. Try: artists like <name>.")
    except NotFound:
        (queued,) = use_cases.request_ingest(svc.settings, [name], source="chat")
        return _text(
            f"I don't know {name} yet. I have queued it (request {queued.request_id}); "
            "ask me again after the next run."
        )
    return answer(found[0], base_url, others=len(found) - 1)


def router(read: Guard) -> APIRouter:
    chat = APIRouter(tags=["chatbot"])

    @chat.post("/chat/kakao", dependencies=[Depends(read)])
    async def kakao_skill(request: Request) -> dict[str, Any]:
        """A Kakao i Open Builder skill: SkillPayload in, SkillResponse (version 2.0) out."""
        svc: Service = request.app.state.service
        try:
            body = await request.json()
        except ValueError:
            return _text("I could not read that request: it is not JSON.")
        try:
            return await run_in_threadpool(reply, svc, body, str(request.base_url))
        except TunelakeError as exc:
            log.error("chat reply failed", error=one_line(exc), exc_info=exc)
            return _text("I cannot look artists up right now; please try again in a moment.")

    return chat
