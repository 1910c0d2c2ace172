"""What keeps another site from sending the pages' forms: a token, and where the browser says it came from.

Every form that changes something (sign-in, sign-out, feedback) carries its session's token in a
hidden field (`csrf_token`), compared in constant time with the one stored with the session; the
sign-in form's token is that of its own session, begun when the form is shown
(`serve.internal.sessions`), so a sign-in cannot be forged either. The browser must also say the
form was sent from this site: its Origin header, or without one its Referer, must name the
request's own scheme, host and port. Either check failing is a 403, written to the access log.

The cookie's SameSite=Lax is a further layer, not relied on: browsers count a page on another port
of the same host as the same site, and send the cookie with its forms.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, status

from serve.internal.db import WebSession

FIELD = "csrf_token"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FormRefused(HTTPException):
    """A form sent from elsewhere, or without its session's token."""

    title = "This form was not sent from this site"

    def __init__(self, detail: str) -> None:
        super().__init__(status.HTTP_403_FORBIDDEN, detail)


def _origin(url: str | None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, the port filled in for http and https; None for anything else."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


def sent_from_here(request: Request) -> bool:
    """Whether the browser says the request came from a page of this site: its Origin, or when it sent
    none its Referer, has the request's own scheme, host and port. Neither (or Origin `null`) is not."""
    own = _origin(str(request.base_url))
    said = request.headers.get("origin") or request.headers.get("referer")
    return own is not None and _origin(said) == own


def check_origin(request: Request) -> None:
    """Let a form through only if it came from this site; else FormRefused."""
    if not sent_from_here(request):
        raise FormRefused("the form was sent from a page of another site: open this site's own page and "
                          "send it from there")


def check(request: Request, sent_token: str, session: WebSession | None) -> None:
    """Let a form through only if it came from this site with its session's token; else FormRefused."""
    check_origin(request)
    if session is None or not secrets.compare_digest(sent_token.encode(), session.csrf_token.encode()):
        raise FormRefused("the form's token is missing or out of date: open the page again and send it again")
