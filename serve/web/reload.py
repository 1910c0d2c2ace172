"""Reloading the champion from the pages, for admins: a page that says what a reload would do and asks to
confirm, and the form it sends (with its session's token, `serve.web.forms`), answered with what
`ServingHolder.reload` did: the version before and after, unchanged, or why it failed.

A reload reads the registry's champion alias again; when it names another version, that version's lists
are scored before the service switches to it, and requests in flight finish on the old one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse

from serve.deps import Access, DatabaseDep, HolderDep, SettingsDep
from serve.internal.registry import ChampionUnavailable, registered_versions
from serve.internal.security import Action
from serve.web.pages import PREFIX, render
from serve.web.session import form_allowed, page_allowed

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ReloadPage = Annotated[Access, Depends(page_allowed(Action.reload))]
ReloadForm = Annotated[Access, Depends(form_allowed(Action.reload))]
CONFIRMED = "yes"


def _confirm(request: Request, holder, settings, status_code: int = 200, error: str | None = None) -> HTMLResponse:
    serving = holder.current.model.version if holder.current is not None else None
    registry = registered_versions(settings, serving or "")
    return render(request, "reload.html", {"step": "confirm", "serving": serving, "registry": registry,
                                           "problem": holder.problem, "error": error}, status_code)


@router.get("/models/reload")
def reload_confirm(request: Request, _: ReloadPage, holder: HolderDep, settings: SettingsDep) -> HTMLResponse:
    """What a reload would do (the version served, the one the registry names), and the form to confirm it."""
    return _confirm(request, holder, settings)


@router.post("/models/reload")
def reload_submit(request: Request, _: ReloadForm, holder: HolderDep, db: DatabaseDep, settings: SettingsDep,
                  confirm: Annotated[str, Form(max_length=10)] = "") -> HTMLResponse:
    """Reload once confirmed, and say what it did; a form without the confirmation asks again (422)."""
    if confirm != CONFIRMED:
        return _confirm(request, holder, settings, status.HTTP_422_UNPROCESSABLE_CONTENT,
                        "The reload was not confirmed: confirm it here.")
    before = holder.current.model.version if holder.current is not None else None
    try:
        result = holder.reload(db, settings)
    except ChampionUnavailable as exc:
        return render(request, "reload.html", {"step": "failed", "error": str(exc), "serving": before},
                      status.HTTP_503_SERVICE_UNAVAILABLE)
    return render(request, "reload.html", {"step": "done", "result": result})
