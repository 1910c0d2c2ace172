"""The most a request body may hold, enforced while it is read and before anything parses it.

`BodyLimit` is a pure ASGI middleware. A request whose Content-Length is over the limit is answered
413 at once: the app never runs and not a byte of the body is read. A body sent without a length
(chunked, streamed) is counted as the app reads it; the read that passes the limit raises
`BodyTooLarge`, an HTTP 413 the app answers like any other error (JSON for the API, a page for the
pages, the access log entry included), and the rest of the body is never read. Should the error
escape the app before any answer has started, the middleware answers the 413 itself.

An answer given before the body was read to its end (a 401 to a caller without a key, a 413) asks
for the connection to be closed, so the server stops taking in the rest of the body.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """The request body is larger than the service accepts."""

    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"the request body is larger than the {max_body_bytes:,} bytes this service accepts")


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, when it gives a readable one."""
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


class BodyLimit:
    """Refuse request bodies over `max_body_bytes` with a 413 that names the limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self.max_body_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False
        unread = bool(length) or "transfer-encoding" in Headers(scope=scope)

        async def counted_receive() -> Message:
            nonlocal received, unread
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
                unread = unread and message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if unread:
                    message.setdefault("headers", [])
                    MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = BodyTooLarge(self.max_body_bytes)
        response = JSONResponse({"detail": refusal.detail}, refusal.status_code, headers={"Connection": "close"})
        await response(scope, receive, send)
