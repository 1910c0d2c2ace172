from __future__ import annotations

from fastapi import APIRouter

from serve.deps import BODY_ERRORS, KEYED_ERRORS, ScoreAccess, ScorerDep, ServingDep
from serve.schemas import ScoreRequest, ScoreResponse

router = APIRouter(tags=["scoring"], responses=KEYED_ERRORS)


@router.post("/score", response_model=ScoreResponse, responses=BODY_ERRORS)
async def score(request: ScoreRequest, access: ScoreAccess, serving: ServingDep, scorer: ScorerDep) -> ScoreResponse:
    """Score one or many charities given as register, return and case-log records."""
    access.charity_numbers = [c.charity_number for c in request.charities]
    return await scorer.score(serving, request)
