"""Dependencies: who is calling and may they, the state being served, the database session.

Everything is read from `app.state`, set up once in the lifespan, directly rather than through
sub-dependencies where a request would otherwise pay for resolving them. Each request takes the
serving state once (`get_serving`), so a reload during the request does not change what it sees.
The dependencies that only read `app.state` are `async`, so FastAPI runs them in the event loop
instead of handing each to a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from serve.internal.access_log import AccessLogWriter
from serve.internal.db import Database, utc_now
from serve.internal.registry import Champion
from serve.internal.scorer import Scorer
from serve.internal.security import PERMISSIONS, Action, Keyring, Principal
from serve.internal.state import ServingHolder, ServingState
from serve.schemas import Problem
from serve.settings import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="An API key; its role decides what it may do.")


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_holder(request: Request) -> ServingHolder:
    return request.app.state.serving


async def get_serving(request: Request) -> ServingState:
    """The state being served; 503 while no model could be loaded (GET /health says why)."""
    holder: ServingHolder = request.app.state.serving
    serving = holder.current
    if serving is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no model is being served: {holder.problem}")
    return serving


ServingDep = Annotated[ServingState, Depends(get_serving)]


async def get_model(serving: ServingDep) -> Champion:
    return serving.champion


ModelDep = Annotated[Champion, Depends(get_model)]


async def get_db(request: Request) -> Database:
    return request.app.state.db


def get_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    with db.sessions() as session:
        yield session


async def get_scorer(request: Request) -> Scorer:
    return request.app.state.scorer


async def get_access_log(request: Request) -> AccessLogWriter:
    return request.app.state.access_log


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
HolderDep = Annotated[ServingHolder, Depends(get_holder)]
DatabaseDep = Annotated[Database, Depends(get_db)]
SessionDep = Annotated[Session, Depends(get_session)]
ScorerDep = Annotated[Scorer, Depends(get_scorer)]
AccessLogDep = Annotated[AccessLogWriter, Depends(get_access_log)]


async def get_principal(request: Request, key: Annotated[str | None, Security(api_key_header)] = None) -> Principal:
    """The holder of the API key sent; 401 without a known key."""
    if not key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is needed (X-API-Key header)",
                            headers={"WWW-Authenticate": "APIKey"})
    keyring: Keyring = request.app.state.keyring
    principal = keyring.holder(key)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key", headers={"WWW-Authenticate": "APIKey"})
    return principal


@dataclass
class Access:
    """An allowed caller, and the charities whose data the request reads (for the access log)."""

    principal: Principal
    charity_numbers: list[str] = field(default_factory=list)


def _status_of(exc: Exception) -> int:
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 422 if isinstance(exc, RequestValidationError) else 500


def allowed(action: Action):
    """A dependency that lets the call through if the caller's role may do `action` (else 403),
    and writes the call to the access log: who, what, when, which charities, and the outcome."""

    async def check(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> AsyncIterator[Access]:
        access_log: AccessLogWriter = request.app.state.access_log
        access = Access(principal, [request.path_params["number"]] if "number" in request.path_params else [])
        started = utc_now()

        def write(outcome: int) -> None:
            access_log.record(principal, request.method, request.url.path, request.url.query,
                              access.charity_numbers, outcome, at=started)

        if principal.role not in PERMISSIONS[action]:
            write(status.HTTP_403_FORBIDDEN)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {principal.role} role may not {action}")
        try:
            yield access
        except Exception as exc:
            write(_status_of(exc))
            raise
        route = request.scope.get("route")
        write(getattr(route, "status_code", None) or status.HTTP_200_OK)

    return check


ScoreAccess = Annotated[Access, Depends(allowed(Action.score))]
RankingsAccess = Annotated[Access, Depends(allowed(Action.rankings))]
CharityAccess = Annotated[Access, Depends(allowed(Action.charity))]
FeedbackAccess = Annotated[Access, Depends(allowed(Action.feedback))]
ModelsAccess = Annotated[Access, Depends(allowed(Action.models))]
ReloadAccess = Annotated[Access, Depends(allowed(Action.reload))]
AccessLogAccess = Annotated[Access, Depends(allowed(Action.access_log))]

# What every call that needs a key may be refused with, for the OpenAPI schema (`responses=`).
KEYED_ERRORS: dict[int | str, dict] = {
    status.HTTP_401_UNAUTHORIZED: {"model": Problem, "description": "No API key, or one that is not known."},
    status.HTTP_403_FORBIDDEN: {"model": Problem, "description": "The key's role may not do this."},
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Problem, "description": "Cannot answer now, e.g. no model is "
                                                                           "being served (GET /health says why)."},
}
# FastAPI's answer, before any validation, to a body it cannot read as text (e.g. bytes that are not UTF-8).
BODY_ERRORS: dict[int | str, dict] = {
    status.HTTP_400_BAD_REQUEST: {"model": Problem, "description": "The body could not be read, e.g. not UTF-8."},
}
