"""Dependencies: who is calling and may they, the state being served, the database session.

Everything is read from `app.state`, set up once in the lifespan, directly rather than through
sub-dependencies where a request would otherwise pay for resolving them. Each request takes the
serving state once (`get_serving`), so a reload during the request does not change what it sees.
The dependencies that only read `app.state` are `async`, so FastAPI runs them in the event loop
instead of handing each to a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from serve.internal.access_log import AccessLogWriter, AccessNote, note_access
from serve.internal.bodies import Sent, read_body, read_sent
from serve.internal.db import Database
from serve.internal.jobs import ListJobs
from serve.internal.queries import read_query
from serve.internal.registry import Champion
from serve.internal.security import PERMISSIONS, Action, Keyring, Principal
from serve.internal.state import ServingHolder, ServingState
from serve.internal.throttle import Throttle
from serve.schemas import FeedbackIn, Problem, RankingsQuery
from serve.settings import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="An API key; its role decides what it may do.")


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_holder(request: Request) -> ServingHolder:
    return request.app.state.serving


async def get_serving(request: Request) -> ServingState:
    """The state being served; 503 while no model could be loaded (GET /health/detail says why)."""
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


async def get_access_log(request: Request) -> AccessLogWriter:
    return request.app.state.access_log


async def get_list_jobs(request: Request) -> ListJobs:
    return request.app.state.list_jobs


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
HolderDep = Annotated[ServingHolder, Depends(get_holder)]
DatabaseDep = Annotated[Database, Depends(get_db)]
SessionDep = Annotated[Session, Depends(get_session)]
AccessLogDep = Annotated[AccessLogWriter, Depends(get_access_log)]
ListJobsDep = Annotated[ListJobs, Depends(get_list_jobs)]


def client_of(request: Request) -> str:
    """The address the request came from, as the server saw it (behind a proxy, the proxy's own unless
    uvicorn is told to trust its forwarded headers)."""
    return request.client.host if request.client else "unknown"


def note_request(request: Request, principal: Principal | None, charity_numbers: list[str] | None = None,
                 detail: dict | None = None) -> AccessNote:
    """Say, for the request's access-log entry, who made it (None: not known) and the charities it reads
    (by default the one in its path); `AccessLogMiddleware` writes the entry with the status sent."""
    if charity_numbers is None:
        charity_numbers = [request.path_params["number"]] if "number" in request.path_params else []
    return note_access(request.scope.setdefault("state", {}), principal, charity_numbers, detail)


def too_many_failed_keys(wait_s: int) -> HTTPException:
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                         f"too many unknown keys from this address: try again in {wait_s} s",
                         headers={"Retry-After": str(wait_s)})


async def get_principal(request: Request, key: Annotated[str | None, Security(api_key_header)] = None) -> Principal:
    """The holder of the API key sent; 401 without a known key, 429 while the client is refused for sending
    too many unknown ones (the key unchecked). The access log writes each refusal (as `anonymous`)."""
    throttle: Throttle = request.app.state.throttle
    client = client_of(request)
    if throttle.due():
        await run_in_threadpool(throttle.refresh)
    wait_s = throttle.retry_after(client)
    if wait_s is not None:
        raise too_many_failed_keys(wait_s)
    if not key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is needed (X-API-Key header)",
                            headers={"WWW-Authenticate": "APIKey"})
    keyring: Keyring = request.app.state.keyring
    principal = keyring.holder(key)
    if principal is None:
        throttle.count(client)
        await run_in_threadpool(throttle.store, client)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key", headers={"WWW-Authenticate": "APIKey"})
    return principal


# An allowed caller, and the charities whose data the request reads: the request's access-log note, so a
# route that sets `access.charity_numbers` or `access.detail` has it written with the status it sends.
Access = AccessNote


def allowed(action: Action):
    """A dependency that lets the call through if the caller's role may do `action` (else 403), and notes
    who made the call and which charity it names, for the access log (`AccessLogMiddleware`)."""

    async def check(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> Access:
        return permit(request, principal, action)

    return check


def permit(request: Request, principal: Principal, action: Action) -> Access:
    """The caller's access-log note, once their role is found to allow `action` (else 403)."""
    access = note_request(request, principal)
    if principal.role not in PERMISSIONS[action]:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {principal.role} role may not {action}")
    return access


RankingsAccess = Annotated[Access, Depends(allowed(Action.rankings))]
CharityAccess = Annotated[Access, Depends(allowed(Action.charity))]
FeedbackAccess = Annotated[Access, Depends(allowed(Action.feedback))]
ModelsAccess = Annotated[Access, Depends(allowed(Action.models))]
ReloadAccess = Annotated[Access, Depends(allowed(Action.reload))]
AccessLogAccess = Annotated[Access, Depends(allowed(Action.access_log))]
BuildListsAccess = Annotated[Access, Depends(allowed(Action.build_lists))]
ListJobsAccess = Annotated[Access, Depends(allowed(Action.list_jobs))]


@dataclass(slots=True)
class ScoreCall:
    """What POST /score works from: the caller's access-log note, the state served and the body, parsed and
    its count checked but not yet validated (the route answers charities sent as stored without it)."""

    access: Access
    serving: ServingState
    sent: Sent


async def score_call(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> ScoreCall:
    """POST /score's one dependency: the role check, then the state served (503 without one), then the
    body, so a body is read only for a caller with the right while a model is served; more charities than
    the caller's role may send at once are refused by their count, before any is validated
    (`serve.internal.bodies`). One dependency rather than three: FastAPI's resolution of each costs more
    than the work most of them do, and /score is the call a busy service answers most."""
    access = permit(request, principal, Action.score)
    serving = await get_serving(request)
    role = principal.role
    most = request.app.state.settings.max_charities.of(role)
    sent = await read_sent(request, {"charities": most}, f"the most the {role} role may score at once")
    return ScoreCall(access, serving, sent)


@dataclass(slots=True)
class RankingsCall:
    """What GET /rankings works from: the caller's access-log note, the state served and the query."""

    access: Access
    serving: ServingState
    query: RankingsQuery


async def rankings_call(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> RankingsCall:
    """GET /rankings' one dependency: the role check, the state served (503 without one), then the query
    (`serve.internal.queries`), in the order FastAPI took them as three: resolving each cost more than the
    page, and a busy office reads the lists a page at a time."""
    access = permit(request, principal, Action.rankings)
    serving = await get_serving(request)
    return RankingsCall(access, serving, read_query(request, RankingsQuery))


async def feedback_body(request: Request, _: FeedbackAccess) -> FeedbackIn:
    """The feedback body, read only for a caller with the right."""
    return await read_body(request, FeedbackIn)


ScoreCallDep = Annotated[ScoreCall, Depends(score_call)]
RankingsCallDep = Annotated[RankingsCall, Depends(rankings_call)]
FeedbackBody = Annotated[FeedbackIn, Depends(feedback_body)]

# What every call that needs a key may be refused with, for the OpenAPI schema (`responses=`).
KEYED_ERRORS: dict[int | str, dict] = {
    status.HTTP_401_UNAUTHORIZED: {"model": Problem, "description": "No API key, or one that is not known."},
    status.HTTP_403_FORBIDDEN: {"model": Problem, "description": "The key's role may not do this."},
    status.HTTP_429_TOO_MANY_REQUESTS: {
        "model": Problem, "description": "Too many unknown keys from this address lately; the key was not checked.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}},
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Problem, "description": "Cannot answer now, e.g. no model is "
                                                                           "being served (/health/detail says why)."},
}
# What a call with a body may also be refused with, before any validation: a body that cannot be read as
# text (e.g. bytes that are not UTF-8), or one larger than the service takes.
BODY_ERRORS: dict[int | str, dict] = {
    status.HTTP_400_BAD_REQUEST: {"model": Problem, "description": "The body could not be read, e.g. not UTF-8."},
    status.HTTP_413_CONTENT_TOO_LARGE: {"model": Problem, "description": "The body is larger than the service "
                                                                        "accepts (RISK_SERVE_MAX_BODY_BYTES)."},
}
