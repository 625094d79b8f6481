"""Recommendations on the service: `GET /users/{user_id}/recommendations` (artists the user
has not played, from their recent plays in the lake through the serving documents'
neighbour lists)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from tunelake import app as use_cases
from tunelake.recommendations import UserRecommendations
from tunelake.service.problems import PROBLEMS
from tunelake.service.routes import Svc
from tunelake.service.security import Guard

MAX_USER_ID = 200
MAX_RECOMMENDATIONS = 100
#: user ids as producers send them: no control characters, no spaces
USER_ID_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]+$"

UserId = Annotated[str, Path(min_length=1, max_length=MAX_USER_ID, pattern=USER_ID_PATTERN)]


def router(reads: Guard) -> APIRouter:
    api = APIRouter(responses=PROBLEMS, dependencies=[Depends(reads)])

    @api.get("/users/{user_id}/recommendations", tags=["recommendations"])
    def recommendations(
        svc: Svc,
        user_id: UserId,
        limit: Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS)] = 10,
        by: Annotated[
            Literal["audio", "listening", "hybrid"] | None,
            Query(description="The similarity method; default: the configured one"),
        ] = None,
    ) -> UserRecommendations:
        """Artists the user has not played in the last TUNELAKE_RECOMMEND_DAYS days, best
        first: the sum over the user's artists of log(1 + plays) x similarity; popular
        artists fill up."""
        return use_cases.user_recommendations(
            svc.settings, user_id, k=limit, method=by, store=svc.serving(), lake=svc.lake()
        )

    return api
