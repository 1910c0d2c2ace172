from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, status

from risk_model.ingest.schemas import DEFAULT_CHARITY_NUMBER_PATTERN
from serve.deps import (
    BODY_ERRORS,
    KEYED_ERRORS,
    CharityAccess,
    FeedbackAccess,
    FeedbackBody,
    ListJobsDep,
    ServingDep,
    SessionDep,
)
from serve.internal.bodies import body_schema
from serve.internal.pages import charity_page, record_feedback
from serve.internal.scorer import check_as_of
from serve.internal.unbuilt import UNBUILT_RESPONSES, answer_unbuilt
from serve.schemas import CharityPage, FeedbackIn, FeedbackOut, Problem
from serve.values import OptionalDay

router = APIRouter(prefix="/charities", tags=["charities"], responses=KEYED_ERRORS)
Number = Annotated[str, Path(pattern=f"^{DEFAULT_CHARITY_NUMBER_PATTERN}$", description="Charity number, e.g. SC012345.")]


@router.get("/{number}", response_model=CharityPage,
            responses={404: {"model": Problem, "description": "Not on the register at that date."},
                       **UNBUILT_RESPONSES})
def charity(number: Number, access: CharityAccess, serving: ServingDep, session: SessionDep, jobs: ListJobsDep,
            as_of: OptionalDay = None) -> CharityPage:
    """One charity: which review list it is on and why (or why neither), its rank within that list, score,
    band, reasons, what changed in a year, return history and feedback. For a date whose lists are not
    stored: 202 with the job that builds them (admins), or 409 saying who can build them."""
    as_of: date = as_of or serving.as_of
    check_as_of(serving.data, as_of, ("query", "as_of"))
    listed = serving.listed(session, as_of)
    if listed is None:
        return answer_unbuilt(jobs, serving.key(as_of), access.principal)
    return charity_page(session, serving, number, as_of, listed)


# The body is read once the key is checked (`FeedbackBody`), so it is documented here.
@router.post("/{number}/feedback", response_model=FeedbackOut, status_code=status.HTTP_201_CREATED,
             responses={**BODY_ERRORS, 404: {"model": Problem, "description": "Not in the register data."}},
             openapi_extra=body_schema(FeedbackIn))
def feedback(number: Number, access: FeedbackAccess, serving: ServingDep, body: FeedbackBody,
             session: SessionDep) -> FeedbackOut:
    """Record what a case officer did about a charity and what came of it, with a note."""
    return record_feedback(session, serving, number, body, access.principal)
