"""The pages' side of list jobs: a page asked for a date whose lists are not stored shows, to a role that
may build them, the job's progress (the page refreshes itself every few seconds: no script), or a form to
start it; to any other role, a refusal that says who can build them.

Starting a job changes what the service stores (the oldest other date is evicted), so it takes a form
with its session's token (a POST), never a link.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request, status

from serve.deps import Access
from serve.internal.jobs import ACTIVE, ListJobs
from serve.internal.security import Action
from serve.internal.state import ServingState
from serve.internal.unbuilt import may_build, progress_of, refusal, start_job
from serve.web.session import form_allowed

# Seconds between two refreshes of a page that waits for a job.
REFRESH_S = 3
BuildForm = Annotated[Access, Depends(form_allowed(Action.build_lists))]


def unbuilt_view(request: Request, jobs: ListJobs, serving: ServingState, as_of: date, access: Access,
                 prefix: str) -> tuple[dict, int]:
    """What the page for a date whose lists are not stored shows, and its status: 202 with the job's
    progress while it runs (the page then refreshes itself), else 200 with the form that starts one;
    a role that may not build them gets the 409 refusal."""
    key = serving.key(as_of)
    if not may_build(access.principal):
        raise refusal(jobs, key, as_of)
    job = jobs.active(key)
    running = job is not None and job.status in ACTIVE
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    context = {"as_of": as_of, "current_as_of": serving.as_of, "job": job if running else None,
               "progress": progress_of(job) if running else None, "last": None if running else jobs.latest(key),
               "here": here, "kept": serving.options.stored_lists, "build_action": f"{prefix}/lists/build",
               "back": f"{prefix}/list"}
    if running:
        return context, status.HTTP_202_ACCEPTED
    return context, status.HTTP_200_OK


def start_from_form(jobs: ListJobs, serving: ServingState, as_of: date, access: Access, next_page: str | None,
                    prefix: str, stored: bool) -> str:
    """Start (or join) the job building a date's lists, unless `stored`; where to go next (the page that
    asked, which shows the job's progress)."""
    if not stored:
        start_job(jobs, serving.key(as_of), access.principal)
    if next_page and next_page.startswith(f"{prefix}/") and not next_page.startswith("//"):
        return next_page
    return f"{prefix}/list?{urlencode({'as_of': as_of.isoformat()})}"
