"""The app: `create_app(settings)` builds it; its lifespan connects, ingests and loads the model once.

Nothing is built at import. `uvicorn serve.main:create_app_from_env --factory` (what
`risk-model serve` runs) reads the settings from `RISK_SERVE_*` variables.
"""

from __future__ import annotations

import gc
import logging
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from importlib.metadata import version

from fastapi import FastAPI, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from risk_model.lists.membership import REVIEW_LISTS
from serve.internal.access_log import AccessLogMiddleware, AccessLogWriter, redact_uvicorn_access_log
from serve.internal.bodies import document_bodies
from serve.internal.db import connect
from serve.internal.docs import ASSETS as DOCS_ASSETS
from serve.internal.docs import install as install_docs
from serve.internal.follow import AliasWatch
from serve.internal.headers import SecurityHeaders
from serve.internal.jobs import ListJobs
from serve.internal.limits import BodyLimit
from serve.internal.scorer import Scorer
from serve.internal.security import Keyring
from serve.internal.sessions import SessionStore
from serve.internal.state import start_serving
from serve.internal.throttle import Throttle
from serve.routes import audit, charities, lists, meta, models, rankings, scoring
from serve.schemas import FeedbackIn, ScoreRequest
from serve.settings import Settings, get_settings
from serve.web import install as install_pages
from serve.web.pages import PREFIX as PAGES

log = logging.getLogger(__name__)
# Settings no longer read, and why: the served model's artefact and registry entry say these.
_FROM_THE_MODEL = ("each review list's capacity comes from the served model, and charities under an open "
                   "inquiry are on neither list")
RETIRED_SETTINGS: dict[str, str] = {
    "RISK_SERVE_CAPACITY_K": _FROM_THE_MODEL,
    "RISK_SERVE_EXCLUDE_OPEN_INQUIRIES": _FROM_THE_MODEL,
    "RISK_SERVE_EXPERIMENT": "the service reads the champion from the registry and logs no runs",
}

DESCRIPTION = """Risk scores for the charity register, with the reasons behind each, on two review lists:
**proactive** (no concern in the last 12 months and no open inquiry) and **triage** (a concern of the
last 12 months not yet taken up by an inquiry), each ranked within itself and sized by the model.

Every endpoint except `/health` needs an `X-API-Key` header. Roles: **analyst** (rankings),
**case_officer** (charity pages and feedback), **auditor** (reads everything, including the
access log), **admin** (everything, including reloading the champion). A high score is a
reason to review, not a finding of wrongdoing."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database, ingest the data, load the champion and its list; close them at the end."""
    settings: Settings = app.state.settings
    db = await run_in_threadpool(connect, settings.database_url)
    try:
        app.state.db = db
        app.state.keyring = Keyring(settings.api_keys)
        if not len(app.state.keyring):
            log.warning("no API keys are configured: every endpoint except /health will answer 401")
        for retired in sorted(RETIRED_SETTINGS.keys() & set(os.environ)):
            log.warning("%s is no longer read: %s", retired, RETIRED_SETTINGS[retired])
        app.state.serving = await run_in_threadpool(start_serving, db, settings)
        app.state.access_log = AccessLogWriter(db).start()
        app.state.throttle = Throttle(db, settings.failed_key_limit,
                                      timedelta(seconds=settings.failed_key_window_seconds))
        app.state.web_sessions = SessionStore(db, timedelta(seconds=settings.web_session_idle_timeout_seconds),
                                              timedelta(seconds=settings.web_session_max_age_seconds))
        app.state.scorer = Scorer(db, settings.max_batch_charities)
        await app.state.scorer.start()
        app.state.list_jobs = ListJobs(db, partial(app.state.serving.build_list, db), settings.max_list_jobs).start()
        app.state.alias_watch = AliasWatch(app.state.serving, db, settings)
        await app.state.alias_watch.start()
        # What start-up built lives as long as the service: keep the collector from walking it.
        gc.freeze()
        serving = app.state.serving.current
        if serving is None:
            log.error("serving no model: %s", app.state.serving.problem)
        else:
            log.info("serving %s version %s; lists as of %s with %s charities", serving.model.registered_model,
                     serving.model.version, serving.as_of,
                     " and ".join(f"{serving.current.listed(name)} {name}" for name in REVIEW_LISTS))
        try:
            yield
        finally:
            await app.state.alias_watch.stop()
            await run_in_threadpool(app.state.list_jobs.stop)
            await app.state.scorer.stop()
            app.state.access_log.stop()
    finally:
        db.dispose()


def _echo(value):
    """The input to quote back in a 422: short scalars only (a non-finite number cannot be JSON)."""
    if value is None or isinstance(value, bool | int) or (isinstance(value, str) and len(value) <= 200):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with each error's field (loc), reason (msg) and type, and the offending value when short."""
    detail = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"], "input": _echo(e.get("input"))}
              for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def create_app(settings: Settings) -> FastAPI:
    """The service for these settings (the model and data are loaded when it starts)."""
    app = FastAPI(title="Charity risk scoring", version=version("risk-model"), description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.add_exception_handler(RequestValidationError, validation_error)
    for module in (scoring, rankings, lists, charities, models, audit, meta):
        app.include_router(module.router)
    install_pages(app, settings)
    install_docs(app)
    document_bodies(app, ScoreRequest, FeedbackIn)
    # Added last, so outermost: a body too large is refused before anything else runs, and every
    # answer, that refusal included, gets the security headers.
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, cacheable=(f"{PAGES}/static/", f"{DOCS_ASSETS}/"))
    # Outermost, so that it sees the status every answer is sent with, a 413 refused before the app included.
    app.add_middleware(AccessLogMiddleware)
    redact_uvicorn_access_log()
    return app


def create_app_from_env() -> FastAPI:
    """uvicorn's factory: the service for the `RISK_SERVE_*` environment."""
    return create_app(get_settings())
