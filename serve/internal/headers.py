"""Security headers on every answer: the API's, the pages', errors, not-found and static files.

| header                    | value                                  | why                                          |
|---------------------------|----------------------------------------|----------------------------------------------|
| Content-Security-Policy   | `POLICY`: only this site's own files,  | the pages load their stylesheet and plots    |
|                           | no inline script or style, no plugins, | from here and nothing else; the charts are   |
|                           | forms post here, never framed          | inline SVG styled by the stylesheet          |
| X-Frame-Options           | DENY                                   | frame-ancestors for browsers without CSP 2   |
| X-Content-Type-Options    | nosniff                                | a JSON or CSV answer is never run as a page  |
| Referrer-Policy           | same-origin                            | no address with a charity number leaves the  |
|                           |                                        | site (`no-referrer` would also blank the     |
|                           |                                        | Origin of the pages' own form posts)         |
| Cache-Control             | no-store, except under `cacheable`     | charity data stays in no browser or proxy    |
|                           | paths (the static files)               | cache                                        |
| Strict-Transport-Security | a year, on answers sent over HTTPS     | the browser never tries plain HTTP again     |
|                           | (uvicorn's --proxy-headers behind a    | (sent over plain HTTP it would be ignored)   |
|                           | proxy that ends TLS)                   |                                              |

An answer that sets one of these itself keeps its own: the API docs' pages carry a policy that lets
their start-up script run, and a model's plot says how long it may be cached. An error no handler
answered is answered here, as a plain 500 with the same headers, and logged with its traceback;
Starlette's own last-resort handler sits outside every middleware and would send it bare.
"""

from __future__ import annotations

import logging

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = "; ".join([
    "default-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])
SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
HSTS = "max-age=31536000"

log = logging.getLogger("serve")


class SecurityHeaders:
    """Add `SECURITY_HEADERS`, and `Cache-Control: no-store` outside the `cacheable` path prefixes, to
    every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp, cacheable: tuple[str, ...] = ()) -> None:
        self.app = app
        self.cacheable = cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        store = not scope["path"].startswith(self.cacheable)
        https = scope.get("scheme") == "https"
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if store:
                    headers.setdefault("cache-control", "no-store")
                if https:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:  # part of an answer is sent: nothing better can follow it
                raise
            log.exception("no handler answered %s %s", scope.get("method"), scope["path"])
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send_with_headers)
