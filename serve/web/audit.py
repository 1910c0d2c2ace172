"""The access-log page for auditors: who read what and when, with the API's filters (who, role, charity,
days, status), a page at a time, and the same entries as CSV.

Both read through the API's role check (`Action.access_log`) and are themselves written to the log, as
`GET /access-log` is; each first waits for the log's queue to drain, so it shows every earlier request.
The CSV holds the newest `CSV_ROWS` entries that match: a longer log is read a range of days at a time.
"""

from __future__ import annotations

import io
import math
from typing import Annotated, get_args
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import Field

from risk_model.export import write_csv
from serve.deps import Access, AccessLogDep, SessionDep
from serve.internal.access_log import read_newest, read_page
from serve.internal.db import utc_now
from serve.internal.security import Action
from serve.schemas import AccessEntry, AccessLogQuery, AccessRole
from serve.values import BlankIsAny
from serve.web.pages import PREFIX, render
from serve.web.session import page_allowed

router = APIRouter(prefix=PREFIX, include_in_schema=False)
AccessLogReader = Annotated[Access, Depends(page_allowed(Action.access_log))]
CSV_ROWS = 50_000
CSV_COLUMNS = tuple(AccessEntry.model_fields)
ROLES: tuple[str, ...] = get_args(AccessRole)
# What the status filter offers; any other code or class may still be typed into the URL.
STATUSES = {"2xx": "answered (2xx)", "3xx": "sent on (3xx)", "4xx": "refused (4xx)", "401": "no or unknown key (401)",
            "403": "not allowed or forged form (403)", "5xx": "failed (5xx)"}


class AccessLogForm(BlankIsAny, AccessLogQuery):
    """The page's filters as its form sends them: an empty field means any."""

    page_size: int = Field(50, ge=1, le=500)

    def filters(self) -> dict[str, str]:
        """The filters as query parameters, for the pager's links and the CSV."""
        return {k: str(v) for k, v in self.model_dump(exclude={"page"}, exclude_defaults=True).items()}


def _caught_up(writer) -> None:
    if not writer.flush():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the access log is behind; try again shortly")


@router.get("/access-log")
def access_log(request: Request, query: Annotated[AccessLogForm, Query()], _: AccessLogReader, session: SessionDep,
               writer: AccessLogDep) -> Response:
    """A page of the access log, newest first, filtered; a page past the last goes to the last."""
    _caught_up(writer)
    found = read_page(session, query)
    pages = max(1, math.ceil(found.total / query.page_size))
    filters = query.filters()
    if query.page > pages:
        return RedirectResponse(f"{PREFIX}/access-log?{urlencode(filters | {'page': pages})}",
                                status.HTTP_303_SEE_OTHER)
    return render(request, "access_log.html", {
        "query": query, "found": found, "pages": pages, "roles": ROLES, "statuses": STATUSES, "csv_rows": CSV_ROWS,
        "page_link": lambda page: f"{PREFIX}/access-log?{urlencode(filters | {'page': page})}",
        "csv_link": f"{PREFIX}/access-log.csv?{urlencode(filters)}",
    })


@router.get("/access-log.csv")
def access_log_csv(query: Annotated[AccessLogForm, Query()], access: AccessLogReader, session: SessionDep,
                   writer: AccessLogDep) -> Response:
    """The newest `CSV_ROWS` entries matching the page's filters (every page of them), as CSV."""
    _caught_up(writer)
    entries = read_newest(session, query, CSV_ROWS)
    frame = pd.DataFrame([e.model_dump(mode="json") for e in entries], columns=list(CSV_COLUMNS))
    buffer = io.StringIO()
    write_csv(frame, buffer)
    # For the log itself: what the export returned (the query string holds the filter).
    access.detail = {"export": "access_log", "rows": len(entries)}
    name = f"access_log_{utc_now():%Y-%m-%d}.csv"
    return Response(buffer.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
