"""What a request for a date whose lists are not stored gets, at once: for a role that may build them, the
job building them (202, with where to poll); for any other, a refusal that says so and who can (409).
Never the wait for the lists themselves."""

from __future__ import annotations

from datetime import date

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse

from serve.internal.building import ListKey
from serve.internal.db import ListJob
from serve.internal.jobs import BUILDING, DONE, QUEUED, ListJobs, TooManyJobs
from serve.internal.security import PERMISSIONS, Action, Principal
from serve.schemas import ListJobOut, Problem

# Seconds a client is asked to wait before polling a job again.
POLL_AFTER_S = 2


def job_link(job_id: int) -> str:
    return f"/lists/jobs/{job_id}"


def progress_of(job: ListJob | None) -> str:
    """Where a job is, in words."""
    if job is None:
        return "stored"
    if job.status == QUEUED:
        return "queued: waiting for the lists of other dates to be built first"
    if job.status == BUILDING:
        return f"building, step {job.step} of {job.steps}: {job.stage}" if job.steps else "building: starting"
    return "done" if job.status == DONE else f"failed: {job.reason}"


def job_out(job: ListJob | None, key: ListKey) -> ListJobOut:
    """A job's status (None: the lists were stored without one)."""
    rankings = f"/rankings?as_of={key.as_of.isoformat()}"
    if job is None:
        return ListJobOut(id=None, as_of=key.as_of, model_version=key.version, status=DONE, step=0, steps=0,
                          progress=progress_of(None), rankings=rankings)
    return ListJobOut(id=job.id, as_of=job.as_of, model_version=job.model_version, status=job.status, step=job.step,
                      steps=job.steps, progress=progress_of(job), reason=job.reason, requested_by=job.requested_by,
                      requested_at=job.requested_at, started_at=job.started_at, finished_at=job.finished_at,
                      poll=job_link(job.id), rankings=rankings)


def may_build(principal: Principal) -> bool:
    return principal.role in PERMISSIONS[Action.build_lists]


def builders() -> str:
    """The roles that may build a date's lists, in words ("an analyst or an admin")."""
    return " or ".join(f"an {r.value}" if r.value[0] in "aeiou" else f"a {r.value.replace('_', ' ')}"
                       for r in sorted(PERMISSIONS[Action.build_lists]))


def start_job(jobs: ListJobs, key: ListKey, principal: Principal) -> ListJob:
    """The job building the lists of `key`, started or joined (503 while too many are waiting)."""
    try:
        return jobs.request(key, principal.name)
    except TooManyJobs as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{exc}: try again later",
                            headers={"Retry-After": "30"}) from exc


class NotBuilt(HTTPException):
    """The 409 refusal; the pages show it under its own title."""

    title = "The lists of that date are not built"


def refusal(jobs: ListJobs, key: ListKey, as_of: date) -> HTTPException:
    """409 for a role that may not build the lists: they are not built, who can build them, and whether
    they are being built now."""
    active = jobs.active(key)
    now = f"; they are being built now ({progress_of(active)}), so try again shortly" if active else ""
    return NotBuilt(status.HTTP_409_CONFLICT,
                    f"the lists as of {as_of} are not built{now}. Only stored lists are served: {builders()} "
                    f"can build them (GET /rankings?as_of={as_of}, or the review lists page for that date)",
                    headers={"Retry-After": str(POLL_AFTER_S)} if active else None)


def accepted(job: ListJob, key: ListKey) -> JSONResponse:
    """202: the job building the lists, and where to poll it."""
    body = job_out(job, key)
    return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED,
                        headers={"Location": body.poll or "", "Retry-After": str(POLL_AFTER_S)})


def answer_unbuilt(jobs: ListJobs, key: ListKey, principal: Principal) -> JSONResponse:
    """The answer to a request for lists that are not stored: 202 with their job for a role that may
    build them (started, or joined when one is running), else the 409 refusal."""
    if not may_build(principal):
        raise refusal(jobs, key, key.as_of)
    return accepted(start_job(jobs, key, principal), key)


# For the OpenAPI schema of every route that reads a date's lists (`responses=`).
UNBUILT_RESPONSES: dict[int | str, dict] = {
    status.HTTP_202_ACCEPTED: {
        "model": ListJobOut, "description": "The lists of that date are not stored: a job is building them "
                                            "(for a role that may build them). Poll `Location`, then ask again.",
        "headers": {"Location": {"description": "The job's status.", "schema": {"type": "string"}},
                    "Retry-After": {"description": "Seconds to wait before polling.", "schema": {"type": "integer"}}}},
    status.HTTP_409_CONFLICT: {"model": Problem, "description": "The lists of that date are not stored, and this "
                                                               "role may not build them; says who can."},
}
