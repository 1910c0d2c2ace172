"""Throttling of unknown keys by client, shared by the service's workers through its database.

A key that is not recognised, in the X-API-Key header or on the sign-in form, is a failure of the
client that sent it (its address). Once a client has `limit` failures within the last `window`,
its requests that need a key are refused with 429 and a Retry-After, the key left unchecked, until
the oldest of those failures is older than the window (a moving window). A right key sent in that
time is refused like a wrong one, so that a refusal says nothing about the key. Refused requests
are not failures: hammering on does not lengthen the wait.

With limit 3 and a window of 60 s, failures at 0 s, 10 s and 20 s refuse the client until 60 s,
when the first leaves the window; one more failure at 61 s refuses it again until 70 s.

Each failure is counted at once in the worker's memory, before anything waits, so that a burst of
concurrent requests to one worker is cut off after `limit`; and stored in the `failed_key` table,
where every worker reads, about once a second (`refresh`), which clients the others have refused.
Failures older than the window are deleted then.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from serve.internal.db import Database, FailedKey, utc_now

log = logging.getLogger(__name__)


class Throttle:
    """Counts each client's unknown keys in a moving window, and says how long a refused client must wait."""

    def __init__(self, db: Database, limit: int, window: timedelta, refresh_s: float = 1.0) -> None:
        self._db = db
        self.limit = limit
        self.window = window
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        # This worker's own failures: the last `limit` of each client, all that decides a refusal.
        self._own: dict[str, deque[datetime]] = {}
        # Until when the database said, at its last reading, that each refused client is refused.
        self._shared: dict[str, datetime] = {}
        self._next_refresh = 0.0

    def retry_after(self, client: str) -> int | None:
        """Whole seconds the client must wait before a key of theirs is checked again; None if it may be now."""
        now = utc_now()
        with self._lock:
            own = self._own.get(client)
            until = max(filter(None, (self._shared.get(client), self._until(own))), default=None)
        if until is None or until <= now:
            return None
        return max(1, math.ceil((until - now).total_seconds()))

    def _until(self, failures: deque[datetime] | None) -> datetime | None:
        return failures[0] + self.window if failures is not None and len(failures) >= self.limit else None

    def count(self, client: str) -> None:
        """Count a failure in this worker at once (no waiting, so the next request already sees it)."""
        with self._lock:
            self._own.setdefault(client, deque(maxlen=self.limit)).append(utc_now())

    def store(self, client: str) -> None:
        """Store a failure for every worker to see, and read back whether the client is now refused. A
        database that cannot be reached is logged: the worker's own count still refuses the client."""
        now = utc_now()
        try:
            with self._db.sessions.begin() as session:
                session.add(FailedKey(client=client[:100], at=now))
                session.flush()
                until = self._until_in(session, client[:100], now)
        except Exception:
            log.exception("could not store a failed key from %s", client)
            return
        with self._lock:
            if until is not None:
                self._shared[client] = until

    def failed(self, client: str) -> None:
        """Count and store a failure (for callers already off the event loop)."""
        self.count(client)
        self.store(client)

    def due(self) -> bool:
        """Whether this worker should read the database again now (then it is not due for `refresh_s`)."""
        with self._lock:
            if time.monotonic() < self._next_refresh:
                return False
            self._next_refresh = time.monotonic() + self._refresh_s
            return True

    def refresh(self) -> None:
        """Read which clients are refused (on any worker's failures), and delete failures past the window."""
        now = utc_now()
        try:
            with self._db.sessions.begin() as session:
                past = FailedKey.at <= now - self.window
                if session.scalar(select(FailedKey.id).where(past).limit(1)) is not None:  # write only when due
                    session.execute(delete(FailedKey).where(past))
                clients = session.scalars(select(FailedKey.client).group_by(FailedKey.client)
                                          .having(func.count() >= self.limit)).all()
                shared = {client: self._until_in(session, client, now) for client in clients}
        except Exception:
            log.exception("could not read the failed keys; this worker throttles on its own count until it can")
            return
        with self._lock:
            self._shared = {client: until for client, until in shared.items() if until is not None}
            for client in [c for c, failures in self._own.items() if failures[-1] <= now - self.window]:
                del self._own[client]

    def _until_in(self, session: Session, client: str, now: datetime) -> datetime | None:
        """When the client stops being refused, by the failures stored in the window; None if it is not."""
        recent = (select(FailedKey.at).where(FailedKey.client == client, FailedKey.at > now - self.window)
                  .order_by(FailedKey.at.desc()).offset(self.limit - 1).limit(1))
        oldest_that_counts = session.scalar(recent)
        return None if oldest_that_counts is None else oldest_that_counts + self.window
