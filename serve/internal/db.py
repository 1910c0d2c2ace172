"""The service's own state in a database, through SQLAlchemy 2: scored lists, feedback, access log.

SQLite (a file) by default; PostgreSQL when the URL says so (`postgresql://` is read with
psycopg 3). Tables are created on start-up if missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Index, Integer, String, Text, create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ScoredCharity(Base):
    """One charity on the register at a list's as-of date, scored by a model version: on a review list
    (`review_list` proactive or triage, ranked within it), or on neither (its status, with no rank)."""

    __tablename__ = "scored_list"

    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(40), primary_key=True)
    charity_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    review_list: Mapped[str] = mapped_column(String(40))
    registered_model: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(Text)
    rank: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    rank_percentile: Mapped[float | None] = mapped_column(Float)
    risk_band: Mapped[str | None] = mapped_column(String(20))
    within_capacity: Mapped[bool | None] = mapped_column(Boolean)
    charity_name: Mapped[str] = mapped_column(Text)
    local_authority: Mapped[str | None] = mapped_column(String(100))
    income_band: Mapped[str] = mapped_column(String(20))
    constitutional_form: Mapped[str | None] = mapped_column(Text)
    geographical_spread: Mapped[str | None] = mapped_column(Text)
    # Short purpose names between bars ("|education|health|"), so one LIKE finds a purpose.
    purposes: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list] = mapped_column(JSON)
    input_sha256: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_scored_list_rank", "as_of", "model_version", "review_list", "rank"),)


class Feedback(Base):
    """What a case officer did about a charity, and what came of it."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charity_number: Mapped[str] = mapped_column(String(20), index=True)
    outcome: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    as_of: Mapped[date] = mapped_column(Date)
    model_version: Mapped[str] = mapped_column(String(40))


class AccessLogEntry(Base):
    """One authenticated request: who, what, when, which charity, and whether it was allowed."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    who: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)
    charity_number: Mapped[str | None] = mapped_column(String(20), index=True)
    status: Mapped[int] = mapped_column(Integer)


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy would otherwise look for psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers carry on while the access log is written; NORMAL is durable at checkpoints.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@dataclass(frozen=True)
class Database:
    """An engine and its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]

    def dispose(self) -> None:
        self.engine.dispose()


def _drop_lists_from_before_the_review_lists(engine: Engine) -> None:
    """Stored lists are the library's output kept for answering, and can always be scored again: a
    `scored_list` table from before the two review lists (no `review_list` column) is dropped, to be
    made afresh. Feedback and the access log are kept as they are."""
    found = inspect(engine)
    if found.has_table("scored_list") and "review_list" not in {c["name"] for c in found.get_columns("scored_list")}:
        ScoredCharity.__table__.drop(engine)


def connect(url: str) -> Database:
    """Open the database at `url` and create any missing tables (a SQLite file's folder too)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    _drop_lists_from_before_the_review_lists(engine)
    Base.metadata.create_all(engine)
    return Database(engine, sessionmaker(engine, expire_on_commit=False))
