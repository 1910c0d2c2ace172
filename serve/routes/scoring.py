from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from serve.deps import BODY_ERRORS, KEYED_ERRORS, ScoreCallDep
from serve.internal.bodies import body_schema
from serve.internal.scorer import ListNotStored
from serve.internal.unbuilt import UNBUILT_RESPONSES, answer_unbuilt
from serve.schemas import ScoreRequest, ScoreResponse

router = APIRouter(tags=["scoring"], responses=KEYED_ERRORS)


# The body is read once the key is checked and a model is served (`score_call`), so it is documented here.
@router.post("/score", response_model=ScoreResponse, responses={**BODY_ERRORS, **UNBUILT_RESPONSES},
             openapi_extra=body_schema(ScoreRequest))
async def score(http: Request, call: ScoreCallDep) -> Response:
    """Score one or many charities given as register, return and case-log records. For an `as_of` whose lists
    are not stored: 202 with the job that builds them (analysts and admins), or 409."""
    # The scorer and the list jobs are read from the app's state here, not as dependencies of their own:
    # resolving a dependency costs a busy service more than reading an attribute (`serve.deps`).
    state = http.app.state
    answered = await call.sent.run(state.scorer.answer_as_stored, call.serving, call.sent.data)
    if answered is not None:  # every charity sent exactly as its stored record: validating it could only pass
        call.access.charity_numbers, answer = answered
        return Response(answer, media_type="application/json")
    request = await call.sent.validated(ScoreRequest)
    call.access.charity_numbers = [c.charity_number for c in request.charities]
    try:
        # The scorer writes the response's JSON itself (stored answers are kept as JSON).
        return Response(await state.scorer.score(call.serving, request), media_type="application/json")
    except ListNotStored as missing:
        return await run_in_threadpool(answer_unbuilt, state.list_jobs, missing.key, call.access.principal)
