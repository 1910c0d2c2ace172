"""The access log: every authenticated request, written by one background thread.

A request only queues its entry, so scoring never waits on a database commit; the writer
commits what has queued every few milliseconds, and drains the queue before the service stops.
Reading the log first waits for the queue to drain, so a reader sees every earlier request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from serve.internal.db import AccessLogEntry, Database, utc_now
from serve.internal.security import Principal
from serve.schemas import AccessEntry, AccessLogPage, AccessLogQuery

log = logging.getLogger(__name__)


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

    def record(self, principal: Principal, method: str, path: str, query: str, charity_numbers: Sequence[str],
               status: int, at: datetime | None = None) -> None:
        """Queue one entry per charity read (one without a charity when none was)."""
        at = at or utc_now()
        base = {"at": at, "who": principal.name, "role": str(principal.role), "method": method, "path": path,
                "query": query[:2000], "status": status}
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
                session.execute(insert(AccessLogEntry), batch)
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


def read_page(session: Session, query: AccessLogQuery) -> AccessLogPage:
    """One page of the access log, newest first, filtered by charity and by key holder."""
    selected = select(AccessLogEntry)
    if query.charity_number is not None:
        selected = selected.where(AccessLogEntry.charity_number == query.charity_number)
    if query.who is not None:
        selected = selected.where(AccessLogEntry.who == query.who)
    total = session.scalar(select(func.count()).select_from(selected.subquery()))
    rows = session.scalars(selected.order_by(AccessLogEntry.id.desc())
                           .offset((query.page - 1) * query.page_size).limit(query.page_size))
    return AccessLogPage(total=int(total or 0), page=query.page, page_size=query.page_size,
                         items=[AccessEntry.model_validate(row, from_attributes=True) for row in rows])
