"""Server-rendered pages for analysts, case officers and auditors, served by the same app as the API.

`install(app)` adds the pages under `/ui`, their stylesheet under `/ui/static`, and HTML answers for
the pages' errors, bad form values included (the API keeps its JSON ones). Signing in, and the
session the pages' cookie names, are `serve.web.session`'s; what protects the forms, `serve.web.forms`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve.settings import Settings
from serve.web import audit, charities, reload
from serve.web.pages import PREFIX, render, router
from serve.web.session import SignInRequired, set_cookie

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)
# Settings of the signed cookie that held the session before sessions were kept in the database.
RETIRED_SETTINGS = frozenset({"RISK_SERVE_WEB_SESSION_SECRET"})


async def _sign_in_first(request: Request, exc: SignInRequired) -> Response:
    target = exc.next_page or request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}", status.HTTP_303_SEE_OTHER)
    if exc.begun is not None:
        set_cookie(response, request, exc.begun)
    return response


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if not _is_page(request):
        return await http_exception_handler(request, exc)
    # Off the event loop: the page looks the session up in the database.
    response = await run_in_threadpool(render, request, "error.html", {
        "status_code": exc.status_code, "detail": exc.detail, "title": getattr(exc, "title", None)}, exc.status_code)
    response.headers.update(getattr(exc, "headers", None) or {})
    return response


def _is_page(request: Request) -> bool:
    path = request.url.path
    return path.startswith(f"{PREFIX}/") and not path.startswith(f"{PREFIX}/static/")


def _invalid_input(api_handler):
    """A page given a bad query or form value says which in HTML; the API keeps its JSON 422."""
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        if not _is_page(request):
            return await api_handler(request, exc)
        fields = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
        return await run_in_threadpool(render, request, "error.html", {
            "status_code": status.HTTP_422_UNPROCESSABLE_CONTENT, "detail": f"check the form ({fields})"},
            status.HTTP_422_UNPROCESSABLE_CONTENT)
    return handler


def install(app: FastAPI, settings: Settings) -> None:
    """Add the pages, their static files and their error pages to the app."""
    for retired in RETIRED_SETTINGS & set(os.environ):
        log.warning("%s is no longer read: the pages' sessions are kept in the service's database", retired)
    app.include_router(router)
    app.include_router(charities.router)
    app.include_router(audit.router)
    app.include_router(reload.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    api_handler = app.exception_handlers.get(RequestValidationError, request_validation_exception_handler)
    app.add_exception_handler(RequestValidationError, _invalid_input(api_handler))

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status.HTTP_303_SEE_OTHER)
