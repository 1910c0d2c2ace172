"""The access log: every request that reads a charity's data or is refused, written by one background thread.

`AccessLogMiddleware`, the app's outermost layer, writes one entry per request once its answer has
started, with the status actually sent (a page's 303 or 422, a 413 refused before the app ran).
The key check and the pages only say who asked and which charities the request read
(`note_access`), so nothing is written twice and no path can skip the log. A request nobody noted
is written when it was refused (400, 401, 403, 405, 413, 422, 429), as `anonymous`, role `none`.
Each entry holds the client's address, the page the browser said it came from, and the query with
any key-like parameter's value redacted (uvicorn's own access log is redacted the same way).

A request only queues its entry, so scoring never waits on a database commit; the writer
commits what has queued every few milliseconds, and drains the queue before the service stops.
Reading the log first waits for the queue to drain, so a reader sees every earlier request.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from serve.internal.db import AccessLogEntry, Database, utc_now
from serve.internal.security import Principal
from serve.schemas import AccessEntry, AccessLogPage, AccessLogQuery

log = logging.getLogger(__name__)
# Who and what role an entry names when the request was refused before any key holder was known.
ANONYMOUS = "anonymous"
NO_ROLE = "none"
# Answers that refuse a request: written even when nobody noted who asked.
REFUSALS = frozenset({400, 401, 403, 405, 413, 422, 429})
# A query parameter whose name says it carries a secret has its value redacted wherever it is logged.
_SECRET_NAME = re.compile(r"(key|token|secret|passw|auth|session|csrf)", re.I)
REDACTED = "REDACTED"
STATE = "access"  # where in the request's state the access-log note is kept


def redacted_query(query: str) -> str:
    """The query string with the value of every key-like parameter (api_key, token, ...) replaced."""
    if not query or not _SECRET_NAME.search(query):
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(name, REDACTED if _SECRET_NAME.search(name) else value) for name, value in pairs])


@dataclass
class AccessNote:
    """What the request's handlers say of it, for its access-log entry: who asked (None: not known) and
    the charities it read; `detail` says what else an export returned."""

    principal: Principal | None = None
    charity_numbers: list[str] = field(default_factory=list)
    detail: dict | None = None


def note_access(scope_state: dict, principal: Principal | None, charity_numbers: Sequence[str] | None = None,
                detail: dict | None = None) -> AccessNote:
    """Say who made the request and what it read; later notes add to earlier ones."""
    note: AccessNote = scope_state.setdefault(STATE, AccessNote())
    if principal is not None:
        note.principal = principal
    note.charity_numbers.extend(n for n in charity_numbers or () if n not in note.charity_numbers)
    if detail is not None:
        note.detail = (note.detail or {}) | detail
    return note


class RedactQueries(logging.Filter):
    """Redacts key-like query parameters in uvicorn's access-log lines (its args: client, method, path, ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path, _, query = args[2].partition("?")
            record.args = (*args[:2], f"{path}?{redacted_query(query)}", *args[3:])
        return True


def redact_uvicorn_access_log() -> None:
    """Add the redacting filter to uvicorn's access logger, once."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueries) for f in logger.filters):
        logger.addFilter(RedactQueries())


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class AccessLogMiddleware:
    """Writes each request's entry once its answer has started, with the status sent."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = utc_now()
        state = scope.setdefault("state", {})
        sent: dict[str, int] = {}

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                self._write(scope, state.get(STATE), message["status"], started)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if "status" not in sent:
                self._write(scope, state.get(STATE), 500, started)
            raise

    @staticmethod
    def _write(scope: dict, note: AccessNote | None, status: int, started: datetime) -> None:
        if note is None and status not in REFUSALS:
            return
        writer: AccessLogWriter | None = getattr(scope["app"].state, "access_log", None)
        if writer is None:  # before the lifespan has started the writer, or after it stopped
            return
        note = note or AccessNote()
        client = scope.get("client")
        origin = _header(scope, b"origin") or _header(scope, b"referer")
        writer.record(note.principal, scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                      note.charity_numbers, status, at=started, client=client[0] if client else None,
                      origin=origin, detail=note.detail)


class AccessLogWriter:
    """Queues access-log entries and writes them in batches from its own thread."""

    def __init__(self, db: Database, interval_s: float = 0.02) -> None:
        self._db = db
        self._interval_s = interval_s
        self._queue: deque[dict] = deque()
        self._written = threading.Condition()
        self._queued_total = 0
        self._written_total = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)

    def start(self) -> AccessLogWriter:
        self._thread.start()
        return self

    def record(self, principal: Principal | None, method: str, path: str, query: str, charity_numbers: Sequence[str],
               status: int, at: datetime | None = None, client: str | None = None, origin: str | None = None,
               detail: dict | None = None) -> None:
        """Queue one entry per charity read (one without a charity when none was); a request refused before
        a key holder was known (`principal` None) is written as `anonymous`, role `none`."""
        at = at or utc_now()
        who, role = (principal.name, str(principal.role)) if principal is not None else (ANONYMOUS, NO_ROLE)
        base = {"at": at, "who": who, "role": role, "method": method, "path": path,
                "query": redacted_query(query)[:2000], "status": status, "client": client[:100] if client else None,
                "origin": origin[:300] if origin else None,
                "detail": json.dumps(detail, default=str, sort_keys=True) if detail else None}
        entries = [{**base, "charity_number": n} for n in charity_numbers] or [{**base, "charity_number": None}]
        with self._written:
            self._queue.extend(entries)
            self._queued_total += len(entries)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is in the database; False if that took too long."""
        with self._written:
            target = self._queued_total
            return self._written.wait_for(lambda: self._written_total >= target, timeout=timeout_s)

    def stop(self) -> None:
        """Write what is queued, then stop the thread."""
        self._stopping.set()
        self._thread.join(timeout=30)

    def _take(self) -> list[dict]:
        with self._written:
            batch = list(self._queue)
            self._queue.clear()
        return batch

    def _write(self, batch: list[dict]) -> bool:
        try:
            with self._db.sessions.begin() as session:
                # The table's own insert, not the ORM's: the batch is plain rows, and its bulk path costs more.
                session.execute(AccessLogEntry.__table__.insert(), batch)
        except Exception:  # the database may be briefly unavailable: keep the entries and retry
            log.exception("could not write %d access-log entries; will retry", len(batch))
            with self._written:
                self._queue.extendleft(reversed(batch))
            return False
        with self._written:
            self._written_total += len(batch)
            self._written.notify_all()
        return True

    def _run(self) -> None:
        failures = 0
        while True:
            stopping = self._stopping.wait(self._interval_s)
            batch = self._take()
            if batch and not self._write(batch):
                failures += 1
                if stopping and failures >= 3:
                    log.error("stopping with %d access-log entries unwritten", len(self._queue))
                    return
                time.sleep(min(1.0, 0.1 * failures))
                continue
            failures = 0
            if stopping and not self._queue:
                return


def _start_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def matching(query: AccessLogQuery) -> Select:
    """The entries the query's filters pick out (every one it names must hold), in no order."""
    selected = select(AccessLogEntry)
    if query.charity_number is not None:
        selected = selected.where(AccessLogEntry.charity_number == query.charity_number)
    if query.who is not None:
        selected = selected.where(func.lower(AccessLogEntry.who) == query.who.lower())
    if query.role is not None:
        selected = selected.where(AccessLogEntry.role == query.role)
    if query.status is not None:
        if query.status.endswith("xx"):
            low = int(query.status[0]) * 100
            selected = selected.where(AccessLogEntry.status.between(low, low + 99))
        else:
            selected = selected.where(AccessLogEntry.status == int(query.status))
    if query.since is not None:
        selected = selected.where(AccessLogEntry.at >= _start_of(query.since))
    if query.until is not None:
        selected = selected.where(AccessLogEntry.at < _start_of(query.until + timedelta(days=1)))
    return selected


def read_page(session: Session, query: AccessLogQuery) -> AccessLogPage:
    """One page of the access log, newest first, filtered by `matching`."""
    selected = matching(query)
    total = session.scalar(select(func.count()).select_from(selected.subquery()))
    rows = session.scalars(selected.order_by(AccessLogEntry.id.desc())
                           .offset((query.page - 1) * query.page_size).limit(query.page_size))
    return AccessLogPage(total=int(total or 0), page=query.page, page_size=query.page_size,
                         items=[AccessEntry.model_validate(row, from_attributes=True) for row in rows])


def read_newest(session: Session, query: AccessLogQuery, most: int) -> list[AccessEntry]:
    """The newest `most` entries the query's filters pick out (every page of them), newest first."""
    rows = session.scalars(matching(query).order_by(AccessLogEntry.id.desc()).limit(most))
    return [AccessEntry.model_validate(row, from_attributes=True) for row in rows]
