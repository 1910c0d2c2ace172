"""Signing in to the pages: the same API keys and roles as the API, held in a session cookie.

The cookie is Starlette's signed session (HttpOnly, SameSite=Lax). It holds the sha256 of the
key, never the key, so a key removed from the settings stops working for the pages at once.
Every page request goes through the API's own role check and access log (`serve.deps.allowed`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request

from serve.deps import Access, allowed
from serve.internal.security import PERMISSIONS, Action, Principal, Role, hash_api_key

SESSION_KEY = "key_sha256"


class SignInRequired(Exception):
    """A page was asked for without a signed-in session."""


def holder_of_hash(request: Request, key_sha256: str) -> Principal | None:
    """The configured key holder whose key has this sha256, if any."""
    for entry in request.app.state.settings.api_keys:
        if secrets.compare_digest(entry.sha256, key_sha256):
            return Principal(entry.name, Role(entry.role))
    return None


def sign_in(request: Request, key: str) -> Principal | None:
    """Check a key against the keyring; on success remember its hash in the session."""
    principal = request.app.state.keyring.holder(key)
    request.session.clear()
    if principal is not None:
        request.session[SESSION_KEY] = hash_api_key(key)
    return principal


def signed_in(request: Request) -> Principal | None:
    digest = request.session.get(SESSION_KEY)
    return holder_of_hash(request, digest) if isinstance(digest, str) else None


async def session_principal(request: Request) -> Principal:
    """The signed-in key holder; without one, the page sends the browser to sign in."""
    principal = signed_in(request)
    if principal is None:
        raise SignInRequired
    return principal


def may(principal: Principal | None, action: Action) -> bool:
    return principal is not None and principal.role in PERMISSIONS[action]


def page_allowed(action: Action):
    """The API's role check and access log, for a caller identified by the session instead of a header."""
    check = asynccontextmanager(allowed(action))

    async def dependency(request: Request,
                         principal: Annotated[Principal, Depends(session_principal)]) -> AsyncIterator[Access]:
        async with check(request, principal) as access:
            yield access

    return dependency


RankingsPage = Annotated[Access, Depends(page_allowed(Action.rankings))]
CharityPage = Annotated[Access, Depends(page_allowed(Action.charity))]
FeedbackPage = Annotated[Access, Depends(page_allowed(Action.feedback))]
ModelsPage = Annotated[Access, Depends(page_allowed(Action.models))]
