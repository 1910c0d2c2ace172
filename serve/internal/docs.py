"""The API's documentation pages, Swagger UI at /docs and ReDoc at /redoc, with nothing from a CDN.

Their scripts and stylesheets are the copies the `fastapi-offline` package ships, served from
`/docs/assets` (cacheable); the pages are FastAPI's own (`get_swagger_ui_html`, `get_redoc_html`)
pointed at them, without Google's fonts or Swagger's online validator.

Each page carries its own Content-Security-Policy: the site's (`headers.POLICY`) and no more than
its viewer needs (each checked in Chromium, "Try it out" included). Both draw icons from `data:`
images; Swagger UI is started by one inline script, allowed by its sha256 alone; ReDoc sets inline
styles and searches in a `blob:` worker. ReDoc's own logo, which it would fetch from its CDN, is
refused by the policy and then not shown.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from serve.internal.headers import POLICY

ASSETS = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _script_hashes(html: str) -> list[str]:
    """CSP sources for the page's inline scripts: 'sha256-...' of each one's exact text."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
            for script in _INLINE_SCRIPT.findall(html)]


def _with_policy(page: HTMLResponse, *directives: str) -> HTMLResponse:
    """The page with the site's policy, its inline scripts allowed by hash, and `directives` added."""
    html = page.body.decode()
    scripts = " ".join(["script-src 'self'", *_script_hashes(html)])
    policy = "; ".join([POLICY, scripts, "img-src 'self' data:", *directives])
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


def install(app: FastAPI) -> None:
    """Serve Swagger UI at /docs and ReDoc at /redoc from local files (the app is made with
    `docs_url=None, redoc_url=None`, so FastAPI's CDN-loading pages are not there)."""
    app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _with_policy(get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI", oauth2_redirect_url=None,
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png", swagger_ui_parameters={"validatorUrl": None},
        ))

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _with_policy(get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js", redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        ), "style-src 'self' 'unsafe-inline'", "worker-src 'self' blob:")
