"""Server-rendered pages for analysts, case officers and auditors, served by the same app as the API.

`install(app)` adds the pages under `/ui`, their stylesheet under `/ui/static`, the signed session
cookie they sign in with, and HTML answers for the pages' errors, bad form values included (the
API keeps its JSON ones).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from serve.settings import Settings
from serve.web.pages import PREFIX, render, router
from serve.web.session import SignInRequired

STATIC = Path(__file__).parent / "static"


async def _sign_in_first(request: Request, _: SignInRequired) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}", status.HTTP_303_SEE_OTHER)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if not _is_page(request):
        return await http_exception_handler(request, exc)
    return render(request, "error.html", {"status_code": exc.status_code, "detail": exc.detail},
                  exc.status_code)


def _is_page(request: Request) -> bool:
    path = request.url.path
    return path.startswith(f"{PREFIX}/") and not path.startswith(f"{PREFIX}/static/")


def _invalid_input(api_handler):
    """A page given a bad query or form value says which in HTML; the API keeps its JSON 422."""
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        if not _is_page(request):
            return await api_handler(request, exc)
        fields = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
        return render(request, "error.html", {"status_code": status.HTTP_422_UNPROCESSABLE_CONTENT,
                                              "detail": f"check the form ({fields})"},
                      status.HTTP_422_UNPROCESSABLE_CONTENT)
    return handler


def install(app: FastAPI, settings: Settings) -> None:
    """Add the pages, their static files, the session cookie and their error pages to the app."""
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret(), session_cookie="risk_session",
                       max_age=settings.web_session_max_age_seconds, path="/", same_site="lax",
                       https_only=settings.web_https_only)
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    api_handler = app.exception_handlers.get(RequestValidationError, request_validation_exception_handler)
    app.add_exception_handler(RequestValidationError, _invalid_input(api_handler))

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status.HTTP_303_SEE_OTHER)
