from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from serve.deps import KEYED_ERRORS, AccessLogAccess, AccessLogDep, SessionDep
from serve.internal.access_log import read_page
from serve.schemas import AccessLogPage, AccessLogQuery

router = APIRouter(tags=["audit"], responses=KEYED_ERRORS)


@router.get("/access-log", response_model=AccessLogPage)
def access_log(query: Annotated[AccessLogQuery, Query()], session: SessionDep, writer: AccessLogDep,
               _: AccessLogAccess) -> AccessLogPage:
    """Who read what and when, newest first; filter by charity, key holder, role, status and days."""
    if not writer.flush():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the access log is behind; try again shortly")
    return read_page(session, query)
