from __future__ import annotations

from fastapi import APIRouter

from serve.deps import ScoreAccess, ScorerDep, ServingDep
from serve.schemas import ScoreRequest, ScoreResponse

router = APIRouter(tags=["scoring"])


@router.post("/score", response_model=ScoreResponse)
async def score(request: ScoreRequest, serving: ServingDep, scorer: ScorerDep, access: ScoreAccess) -> ScoreResponse:
    """Score one or many charities given as register, return and case-log records."""
    access.charity_numbers = [c.charity_number for c in request.charities]
    return await scorer.score(serving, request)
