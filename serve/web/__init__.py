"""Server-rendered pages for analysts, case officers and auditors, served by the same app as the API.

`install(app)` adds the pages under `/ui`, their stylesheet under `/ui/static`, the signed session
cookie they sign in with, and HTML answers for the pages' errors (the API keeps its JSON ones).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from serve.web.pages import PREFIX, render, router
from serve.web.session import SignInRequired, WebSettings

STATIC = Path(__file__).parent / "static"


async def _sign_in_first(request: Request, _: SignInRequired) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}", status.HTTP_303_SEE_OTHER)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if not request.url.path.startswith(f"{PREFIX}/") or request.url.path.startswith(f"{PREFIX}/static/"):
        return await http_exception_handler(request, exc)
    return render(request, "error.html", {"status_code": exc.status_code, "detail": exc.detail},
                  exc.status_code)


def install(app: FastAPI, settings: WebSettings | None = None) -> None:
    """Add the pages, their static files, the session cookie and their error pages to the app."""
    settings = settings or WebSettings()
    app.state.web_settings = settings
    app.add_middleware(SessionMiddleware, secret_key=settings.secret(), session_cookie="risk_session",
                       max_age=settings.session_max_age_seconds, path="/", same_site="lax",
                       https_only=settings.https_only)
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status.HTTP_303_SEE_OTHER)
