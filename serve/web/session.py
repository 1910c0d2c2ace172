"""Signing in to the pages: the same API keys and roles as the API, in a session kept by the service.

The cookie (`risk_session`: HttpOnly, SameSite=Lax, Secure unless `web_https_only` is turned off)
holds only the session's random id; the session is a row of the service's database
(`serve.internal.sessions`). Each request checks that the session's key is still configured, with
the same role, so a key removed from the settings ends its sessions at once. Every page request
goes through the API's own role check and access log (`serve.deps.allowed`), and every form through
`serve.web.forms` (its token, and where it was sent from).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Form, Request, Response

from serve.deps import Access, allowed, note_request
from serve.internal.db import KeptFeedback, WebSession
from serve.internal.security import PERMISSIONS, Action, Principal, Role, hash_api_key
from serve.internal.sessions import Begun, SessionStore
from serve.values import charity_number
from serve.web import forms

COOKIE = "risk_session"
# The request's session and its key holder, once looked up.
_LOOKED_UP = "web_session"


class SignInRequired(Exception):
    """A page was asked for without a signed-in session: sign in, then go to `next_page` (default: the page
    asked for), with `begun` the session to give the browser first, if one was begun for it."""

    def __init__(self, next_page: str | None = None, begun: Begun | None = None) -> None:
        super().__init__(next_page)
        self.next_page = next_page
        self.begun = begun


def _store(request: Request) -> SessionStore:
    return request.app.state.web_sessions


def _holder(request: Request, row: WebSession) -> Principal | None:
    """The configured key holder the session was signed in as, if its key is still configured with that role."""
    if row.key_sha256 is None:
        return None
    for entry in request.app.state.settings.api_keys:
        if secrets.compare_digest(entry.sha256, row.key_sha256) and entry.role == row.role:
            return Principal(entry.name, Role(entry.role))
    return None


def _looked_up(request: Request) -> tuple[WebSession | None, Principal | None]:
    """The request's live session (signed in, or the sign-in form's) and who is signed in, looked up once;
    a session whose key is no longer configured is ended here."""
    found = getattr(request.state, _LOOKED_UP, None)
    if found is None:
        row = _store(request).find(request.cookies.get(COOKIE))
        principal = _holder(request, row) if row is not None else None
        if row is not None and row.key_sha256 is not None and principal is None:
            _store(request).end(row)
            row = None
        found = (row, principal)
        setattr(request.state, _LOOKED_UP, found)
    return found


def current(request: Request) -> WebSession | None:
    return _looked_up(request)[0]


def signed_in(request: Request) -> Principal | None:
    return _looked_up(request)[1]


def session_principal(request: Request) -> Principal:
    """The signed-in key holder; without one, the page sends the browser to sign in."""
    principal = signed_in(request)
    if principal is None:
        note_request(request, None)  # the request is written to the access log with its redirect to sign in
        raise SignInRequired
    return principal


def form_session(request: Request) -> Begun | None:
    """Make sure the request has a session for the sign-in form's token: a new one (its id for the cookie)
    when the browser brought none that is live, else None."""
    if current(request) is not None:
        return None
    begun = _store(request).begin()
    setattr(request.state, _LOOKED_UP, (begun.row, None))
    return begun


def sign_in(request: Request, key: str) -> tuple[Principal, Begun] | None:
    """Check a key against the keyring; on success end the request's session and begin a signed-in one."""
    principal = request.app.state.keyring.holder(key)
    if principal is None:
        return None
    previous = current(request)
    begun = _store(request).begin(hash_api_key(key), str(principal.role))
    if previous is not None:
        _store(request).carry_kept(previous, begun.row)
        _store(request).end(previous)
    setattr(request.state, _LOOKED_UP, (begun.row, principal))
    return principal, begun


def sign_out(request: Request) -> None:
    """End the request's session at once."""
    row = current(request)
    if row is not None:
        _store(request).end(row)
    setattr(request.state, _LOOKED_UP, (None, None))


def feedback_sender(request: Request, number: str, outcome: Annotated[str, Form(max_length=40)] = "",
                    note: Annotated[str, Form(max_length=6000)] = "") -> Principal:
    """The signed-in key holder sending feedback. When the session has ended, feedback sent from this site is
    kept for the browser's session and the browser sent to sign in, then back to the charity's page, where
    it is offered again to be sent: the form's token cannot be checked, so nothing is stored as sent."""
    principal = signed_in(request)
    if principal is not None:
        return principal
    note_request(request, None)
    if charity_number(number) != number:
        raise SignInRequired
    forms.check_origin(request)
    page = request.url.path.removesuffix("/feedback")
    begun = form_session(request)
    _store(request).keep(current(request), number, outcome, note)
    raise SignInRequired(f"{page}#feedback", begun)


def kept_feedback(request: Request, number: str | None = None) -> list[KeptFeedback]:
    """The feedback kept for the request's session (on one charity, if given), newest first."""
    row = current(request)
    return _store(request).kept(row, number) if row is not None else []


def forget_kept_feedback(request: Request, number: str) -> None:
    row = current(request)
    if row is not None:
        _store(request).forget_kept(row, number)


def checked_form(request: Request, csrf_token: str) -> None:
    """`forms.check` for a form handled outside the role check (sign-in, sign-out), its caller noted for the access log."""
    try:
        forms.check(request, csrf_token, current(request))
    except forms.FormRefused:
        note_request(request, signed_in(request))
        raise


def set_cookie(response: Response, request: Request, begun: Begun) -> None:
    """Give the browser the new session's id; it lasts as long as the session may."""
    store, settings = _store(request), request.app.state.settings
    lasts = store.absolute if begun.row.key_sha256 is not None else store.idle
    response.set_cookie(COOKIE, begun.session_id, max_age=int(lasts.total_seconds()), path="/",
                        secure=settings.web_https_only, httponly=True, samesite="lax")


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", secure=request.app.state.settings.web_https_only, httponly=True,
                           samesite="lax")


def may(principal: Principal | None, action: Action) -> bool:
    return principal is not None and principal.role in PERMISSIONS[action]


def page_allowed(action: Action):
    """The API's role check and access log, for a caller identified by the session instead of a header."""
    check = allowed(action)

    async def dependency(request: Request, principal: Annotated[Principal, Depends(session_principal)]) -> Access:
        return await check(request, principal)

    return dependency


def form_allowed(action: Action, sender=session_principal):
    """`page_allowed` for a form: it must also come from this site with its session's token (else 403,
    written to the access log with the rest). `sender`: the dependency that finds who sent it."""
    check = allowed(action)

    # `sender` as a default, not in the annotation: annotations are read as text, where it is not in scope.
    async def dependency(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = "",
                         principal: Principal = Depends(sender)) -> Access:
        access = await check(request, principal)
        forms.check(request, csrf_token, current(request))
        return access

    return dependency


RankingsPage = Annotated[Access, Depends(page_allowed(Action.rankings))]
CharityPage = Annotated[Access, Depends(page_allowed(Action.charity))]
FeedbackForm = Annotated[Access, Depends(form_allowed(Action.feedback, feedback_sender))]
ModelsPage = Annotated[Access, Depends(page_allowed(Action.models))]
