"""The pages' sessions, kept in the service's database so that every worker sees the same ones.

The browser holds only a random id (256 bits, in the `risk_session` cookie); the `web_session` table
holds the id's sha256, never the id, with the signed-in key's sha256 and role, the token every form
of the session must send back, and when the session began and was last used. A session ends:

- at sign-out, when its row is deleted (the cookie, replayed, finds nothing);
- after `idle` without a request, or `absolute` after it began, however busy;
- when its key is no longer configured (the pages check on every request, `serve.web.session`).

A row without a key is the sign-in form's own session, begun when the form is shown: it carries the
token the form must send back, so a sign-in cannot be forged from another site either. Signing in
begins a new session with a new id (the form's is ended), so an id known before sign-in is worth
nothing after it. Expired rows are deleted whenever a session begins. The sign-in form's sessions are
begun for anyone who asks for the form, so at most `most_form_sessions` of them are kept, the least
recently used deleted first: a flood of requests for the form cannot grow the table without bound (it
can at worst end other forms' sessions, whose sign-in then asks for the form again).

Feedback sent after its session had ended is kept (`kept_feedback`) for the session the browser has
then, the sign-in form's, and moves with it to the session signed in; the charity's page offers it back,
to be checked and sent, and it is gone once sent, at sign-out, or after `idle`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from serve.internal.db import Database, KeptFeedback, WebSession, utc_now


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Begun:
    """A new session: the id for the cookie (shown once, never stored) and its row."""

    session_id: str
    row: WebSession


class SessionStore:
    """Begins, finds and ends the pages' sessions in the service's database."""

    def __init__(self, db: Database, idle: timedelta, absolute: timedelta, most_form_sessions: int = 10_000) -> None:
        self._db = db
        self.idle = idle
        self.absolute = absolute
        self.most_form_sessions = most_form_sessions

    def begin(self, key_sha256: str | None = None, role: str | None = None) -> Begun:
        """A new session for a signed-in key (or, with no key, for the sign-in form), with its own form token."""
        session_id = secrets.token_urlsafe(32)
        now = utc_now()
        row = WebSession(id_sha256=_digest(session_id), key_sha256=key_sha256, role=role,
                         csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now)
        with self._db.sessions.begin() as session:
            self._remove_expired(session, now)
            session.add(row)
            if key_sha256 is None:
                self._bound_form_sessions(session)
        return Begun(session_id, row)

    def find(self, session_id: str | None) -> WebSession | None:
        """The live session with this id, marked as used now; None for an unknown or expired one (deleted)."""
        if not session_id:
            return None
        digest = _digest(session_id)
        now = utc_now()
        with self._db.sessions.begin() as session:
            row = session.get(WebSession, digest)
            if row is None:
                return None
            if self.expired(row, now):
                session.delete(row)
                return None
            row.last_seen_at = now
        return row

    def expired(self, row: WebSession, now: datetime) -> bool:
        return row.last_seen_at <= now - self.idle or row.created_at <= now - self.absolute

    def end(self, row: WebSession) -> None:
        """End a session at once: its id finds nothing from now on, in every worker."""
        with self._db.sessions.begin() as session:
            session.execute(delete(WebSession).where(WebSession.id_sha256 == row.id_sha256))
            session.execute(delete(KeptFeedback).where(KeptFeedback.session_sha256 == row.id_sha256))

    def keep(self, row: WebSession, number: str, outcome: str, note: str) -> None:
        """Keep feedback on a charity for the session, in place of any kept before for it."""
        now = utc_now()
        with self._db.sessions.begin() as session:
            session.execute(delete(KeptFeedback).where(KeptFeedback.session_sha256 == row.id_sha256,
                                                       KeptFeedback.charity_number == number))
            session.add(KeptFeedback(session_sha256=row.id_sha256, charity_number=number, outcome=outcome,
                                     note=note, kept_at=now))

    def kept(self, row: WebSession, number: str | None = None) -> list[KeptFeedback]:
        """The feedback kept for the session (on one charity, if given), newest first."""
        query = select(KeptFeedback).where(KeptFeedback.session_sha256 == row.id_sha256,
                                           KeptFeedback.kept_at > utc_now() - self.idle)
        if number is not None:
            query = query.where(KeptFeedback.charity_number == number)
        with self._db.sessions() as session:
            return list(session.scalars(query.order_by(KeptFeedback.id.desc())))

    def carry_kept(self, previous: WebSession, row: WebSession) -> None:
        """Move what was kept for one session to another (at sign-in)."""
        with self._db.sessions.begin() as session:
            session.execute(update(KeptFeedback).where(KeptFeedback.session_sha256 == previous.id_sha256)
                            .values(session_sha256=row.id_sha256))

    def forget_kept(self, row: WebSession, number: str) -> None:
        """Drop what was kept for the session on a charity (it has been sent)."""
        with self._db.sessions.begin() as session:
            session.execute(delete(KeptFeedback).where(KeptFeedback.session_sha256 == row.id_sha256,
                                                       KeptFeedback.charity_number == number))

    def _bound_form_sessions(self, session) -> None:
        """Delete the least recently used sign-in form sessions beyond `most_form_sessions`, with what they kept."""
        session.flush()
        beyond = list(session.scalars(select(WebSession.id_sha256).where(WebSession.key_sha256.is_(None))
                                      .order_by(WebSession.last_seen_at.desc(), WebSession.created_at.desc())
                                      .offset(self.most_form_sessions)))
        if beyond:
            session.execute(delete(WebSession).where(WebSession.id_sha256.in_(beyond)))
            session.execute(delete(KeptFeedback).where(KeptFeedback.session_sha256.in_(beyond)))

    def _remove_expired(self, session, now: datetime) -> None:
        session.execute(delete(WebSession).where(or_(WebSession.last_seen_at <= now - self.idle,
                                                     WebSession.created_at <= now - self.absolute)))
        session.execute(delete(KeptFeedback).where(KeptFeedback.kept_at <= now - self.idle))
