"""The case officers' pages: finding a charity (by name or number, or among those the officer opened lately),
its page (for one off the register at the date, the page saying so) and its feedback form.

A number is read however it is typed ("sc 044454"), by the service's one reader of charity numbers
(`serve.values.charity_number`). Feedback sent after the session had ended is kept for the browser and
offered back here after sign-in (`serve.web.session.feedback_sender`), to be checked and sent.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from risk_model.ingest.schemas import DEFAULT_CHARITY_NUMBER_PATTERN
from serve.deps import AccessLogDep, ListJobsDep, ServingDep, SessionDep
from serve.internal.finding import recently_opened
from serve.internal.finding import search as search_register
from serve.internal.lists import stored_row
from serve.internal.pages import charity_page, off_register_page, record_feedback
from serve.internal.scorer import check_as_of
from serve.schemas import FeedbackIn, FeedbackOutcome
from serve.values import OptionalDay, charity_number
from serve.web import charts
from serve.web.pages import PREFIX, render, unbuilt_page
from serve.web.session import CharityPage, FeedbackForm, forget_kept_feedback, kept_feedback

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/charities")
def find_charity(request: Request, access: CharityPage, serving: ServingDep, session: SessionDep,
                 access_log: AccessLogDep, search: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    """Find a charity by name or number (a number goes straight to its page); with nothing asked, the
    charities the key holder opened lately."""
    text = (search or "").strip()
    context = {"search": text, "error": None, "found": None, "total": 0, "recent": []}
    if not text:
        access_log.flush()  # the page just left is in the log before the log is read
        recent = recently_opened(session, serving, access.principal.name, f"{PREFIX}/charities/")
        return render(request, "find.html", context | {"recent": recent})
    number = charity_number(text)
    if number is not None and number in serving.data:
        return RedirectResponse(f"{PREFIX}/charities/{number}", status.HTTP_303_SEE_OTHER)
    if number is not None:
        return render(request, "find.html", context | {"error": f"No charity numbered {number} is in the register "
                                                                 "data."}, status.HTTP_404_NOT_FOUND)
    squeezed = "".join(text.split())
    # SC and digits of another script (str.isdigit takes "０") or too few or many: a number mistyped.
    if squeezed[:2].upper() == "SC" and squeezed[2:].isdigit():
        return render(request, "find.html", context | {"error": "A charity number is SC and six or seven digits "
                                                                 "(0 to 9), e.g. SC044454."},
                      status.HTTP_422_UNPROCESSABLE_CONTENT)
    total, found = search_register(session, serving, text, serving.as_of)
    return render(request, "find.html", context | {"found": found, "total": total})


def _case_log(serving, number: str, as_of: date) -> list[dict]:
    events = serving.data.events_of(number)
    events = events[events["date"] <= str(as_of)].sort_values("date")
    return [{"date": row["date"].date(), "event": str(row["event"]).replace("_", " "),
             "outcome": None if not isinstance(row["outcome"], str) else row["outcome"].replace("_", " ")}
            for row in events.to_dict("records")]


def _charity(request: Request, number: str, serving, session, as_of: date | None, form: dict | None = None,
             form_error: str | None = None, status_code: int = 200) -> HTMLResponse:
    """The charity's page, or for one off the register at the date the page saying so; the feedback form
    holds `form`'s values, else any kept from a session that had ended (with a note that it is unsent)."""
    as_of = as_of or serving.as_of
    check_as_of(serving.data, as_of, ("query", "as_of"))
    kept = kept_feedback(request, number) if form is None else []
    if kept:
        form = {"outcome": kept[0].outcome, "note": kept[0].note}
    feedback_form = {"outcomes": list(FeedbackOutcome), "form": form or {"outcome": "", "note": ""},
                     "kept": bool(kept), "form_error": form_error, "case_log": _case_log(serving, number, as_of)}
    if stored_row(session, as_of, serving.model.version, number) is None:
        page = off_register_page(session, serving, number, as_of)
        return render(request, "off_register.html", {"page": page, "money": charts.money_chart(page.returns),
                                                     **feedback_form}, status_code)
    page = charity_page(session, serving, number, as_of, serving.listed(session, as_of))
    return render(request, "charity.html", {
        "page": page, "waterfall": charts.waterfall(page), "money": charts.money_chart(page.returns),
        "current": as_of == serving.as_of, **feedback_form,
    }, status_code)


@router.get("/charities/{number}")
def charity(request: Request, number: str, access: CharityPage, serving: ServingDep, session: SessionDep,
            jobs: ListJobsDep, as_of: OptionalDay = None) -> Response:
    """A charity's score, reasons, changes, returns, case log and feedback; for one removed from the register
    (or not yet on it) at the date, that, with its returns, case log and feedback."""
    tidy = charity_number(number)
    if tidy is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"a charity number looks like {DEFAULT_CHARITY_NUMBER_PATTERN}")
    if tidy != number:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{PREFIX}/charities/{tidy}{query}", status.HTTP_303_SEE_OTHER)
    if as_of is not None:
        check_as_of(serving.data, as_of, ("query", "as_of"))
        if serving.listed(session, as_of) is None:
            return unbuilt_page(request, jobs, serving, as_of, access)
    return _charity(request, number, serving, session, as_of)


@router.post("/charities/{number}/feedback")
def feedback(request: Request, number: str, access: FeedbackForm, serving: ServingDep, session: SessionDep,
             outcome: Annotated[str, Form(max_length=40)] = "",
             note: Annotated[str, Form(max_length=6000)] = "") -> Response:
    """Record a case officer's feedback, then show the page again (a reload does not resend it); refused,
    the form comes back with what was typed and why."""
    if charity_number(number) != number:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"a charity number looks like {DEFAULT_CHARITY_NUMBER_PATTERN}")
    try:
        body = FeedbackIn(outcome=outcome, note=note)
    except ValidationError as exc:
        problems = " ".join("Choose an outcome." if e["loc"][-1] == "outcome" else
                            f"{e['msg'].removeprefix('Value error, ').capitalize()}." for e in exc.errors())
        return _charity(request, number, serving, session, None, {"outcome": outcome, "note": note}, problems,
                        status.HTTP_422_UNPROCESSABLE_CONTENT)
    record_feedback(session, serving, number, body, access.principal)
    forget_kept_feedback(request, number)
    return RedirectResponse(f"{PREFIX}/charities/{number}#feedback", status.HTTP_303_SEE_OTHER)
