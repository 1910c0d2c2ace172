from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from serve.deps import KEYED_ERRORS, BuildListsAccess, ListJobsAccess, ListJobsDep, ServingDep, SessionDep
from serve.internal.building import ListKey
from serve.internal.scorer import check_as_of
from serve.internal.unbuilt import UNBUILT_RESPONSES, accepted, job_out, start_job
from serve.schemas import ListJobOut, Problem

router = APIRouter(prefix="/lists", tags=["lists"], responses=KEYED_ERRORS)


@router.post("/jobs", response_model=ListJobOut,
             responses={200: {"description": "The lists of that date are stored already."},
                        202: UNBUILT_RESPONSES[202]})
def build(as_of: Annotated[date, Query(description="The as-of date whose lists to build.")], access: BuildListsAccess,
          serving: ServingDep, session: SessionDep, jobs: ListJobsDep):
    """Build the lists of a date, scored by the version served: 202 with the job (a new one, or the one
    already building them), or 200 when they are stored already."""
    check_as_of(serving.data, as_of, ("query", "as_of"))
    key = serving.key(as_of)
    if serving.listed(session, as_of) is not None:
        return job_out(jobs.latest(key), key)
    return accepted(start_job(jobs, key, access.principal), key)


@router.get("/jobs/{job_id}", response_model=ListJobOut,
            responses={404: {"model": Problem, "description": "No such job."}})
def job(job_id: Annotated[int, Path(ge=1, le=2**62)], _: ListJobsAccess, jobs: ListJobsDep) -> ListJobOut:
    """A list job's status: queued, building (step n of N, and what it is doing), done, or failed and why."""
    found = jobs.get(job_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no list job {job_id}")
    return job_out(found, ListKey(found.as_of, found.model_version))
