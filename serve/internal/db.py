"""The service's own state in a database, through SQLAlchemy 2: scored lists (with the catalogue of
those stored and the jobs that build them), feedback, access log, the pages' sessions and the failed
keys that throttle a client.

SQLite (a file) by default; PostgreSQL when the URL says so (`postgresql://` is read with
psycopg 3). Tables are created on start-up if missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
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


# The columns `/rankings` filters on.
_FILTERED = ("local_authority", "income_band", "constitutional_form", "risk_band", "purposes")


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
    # How the score and its factors moved since a year before, worked out when the list was stored.
    what_changed: Mapped[dict | None] = mapped_column(JSON)
    input_sha256: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # One index per order and per filter the rankings offer, each within one list: an order's holds the
    # columns filtered on, a filter's what the orders sort by, so that the order of the rows matching any
    # query is read from an index alone (ties broken by rank). The rank's holds every column a ranked list
    # shows, so that a page of rows, read by their ranks, never reads the table's rows (with their reasons
    # and what changed, a few kB each).
    __table_args__ = tuple(
        Index(f"ix_scored_list_{name}", "as_of", "model_version", "review_list", *columns)
        for name, columns in {
            "rank": ("rank", "charity_number", "purposes", "charity_name", "score", "rank_percentile", "risk_band",
                     "within_capacity", "local_authority", "income_band", "constitutional_form",
                     "geographical_spread"),
            **{name: (column, "rank", "charity_number", *_FILTERED)
               for name, column in (("score", "score"), ("name", "charity_name"))},
            "number": ("charity_number", "rank", *_FILTERED),
            **{name: (column, "rank", "charity_number", "score", "charity_name")
               for name, column in (("area", "local_authority"), ("income", "income_band"),
                                    ("form", "constitutional_form"), ("band", "risk_band"))},
        }.items()
    )


class StoredListRecord(Base):
    """A list stored in `scored_list`: its date and model version, when, and how many on each review list."""

    __tablename__ = "stored_list"

    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(40), primary_key=True)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    listed: Mapped[dict] = mapped_column(JSON)


class ListJob(Base):
    """Building the lists of one as-of date for one model version: queued, building (step of steps),
    done or failed (with the reason). `active` holds "as_of/version" while queued or building, and is
    unique, so a date has one job at a time, whichever worker asks."""

    __tablename__ = "list_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    as_of: Mapped[date] = mapped_column(Date)
    model_version: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)
    step: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The worker process that builds it, and when it last said it was still at it.
    worker: Mapped[str] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[str | None] = mapped_column(String(80), unique=True)

    __table_args__ = (Index("ix_list_job_date", "as_of", "model_version", "id"),)


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
    # The address the request came from (none in entries from before it was kept).
    client: Mapped[str | None] = mapped_column(String(100))
    # Where the browser said the request came from (Origin, else Referer), when it said.
    origin: Mapped[str | None] = mapped_column(String(300))
    # What else an auditor needs to know what was read: for an export, the list, its date, the model
    # version, the filter and how many rows it returned (JSON).
    detail: Mapped[str | None] = mapped_column(Text)


class WebSession(Base):
    """A session of the pages. The browser holds a random id; this row is keyed by the id's sha256, so
    the table never holds a live cookie. Without a key hash it is the sign-in form's session."""

    __tablename__ = "web_session"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_sha256: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(20))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class KeptFeedback(Base):
    """Feedback sent after its page's session had ended, kept for the browser's session (the sign-in form's,
    then the one signed in) to be offered back after sign-in: never stored as anyone's feedback."""

    __tablename__ = "kept_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_sha256: Mapped[str] = mapped_column(String(64), index=True)
    charity_number: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text)
    kept_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FailedKey(Base):
    """A key that was not recognised (X-API-Key header or sign-in form), and the client that sent it."""

    __tablename__ = "failed_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (Index("ix_failed_key_client_at", "client", "at"),)


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
    `scored_list` table from before the two review lists (no `review_list` column) or from before what
    changed was stored with each row (no `what_changed`) is dropped, with its catalogue and jobs, to be
    made afresh (with the indexes of today). Feedback and the access log are kept as they are."""
    found = inspect(engine)
    if found.has_table("scored_list") and not {"review_list", "what_changed"} <= {
            c["name"] for c in found.get_columns("scored_list")}:
        for table in (ScoredCharity, StoredListRecord, ListJob):
            table.__table__.drop(engine, checkfirst=True)


def _lists_indexed_as_declared(engine: Engine) -> None:
    """A `scored_list` whose indexes are not those declared (an earlier version's, or missing) has them
    made again; they are what a page of a list is read from."""
    found = inspect(engine)
    if not found.has_table("scored_list"):
        return
    present = {ix["name"]: list(ix["column_names"]) for ix in found.get_indexes("scored_list")}
    for index in ScoredCharity.__table__.indexes:
        if present.get(index.name) != [c.name for c in index.columns]:
            if index.name in present:
                index.drop(engine)
            index.create(engine)


# Columns the access log gained after it was first kept: (name, SQL type). Old rows leave them empty.
_ACCESS_LOG_ADDED = (("client", "VARCHAR(100)"), ("origin", "VARCHAR(300)"), ("detail", "TEXT"))


def _add_client_to_the_access_log(engine: Engine) -> None:
    """An access log from before client addresses, origins and details were kept gets the columns."""
    found = inspect(engine)
    if not found.has_table("access_log"):
        return
    present = {c["name"] for c in found.get_columns("access_log")}
    with engine.begin() as connection:
        for name, kind in _ACCESS_LOG_ADDED:
            if name not in present:
                connection.execute(text(f"ALTER TABLE access_log ADD COLUMN {name} {kind}"))


# Any number both the service's workers use for the lock they take while they set the tables up.
_SCHEMA_LOCK = 7_261_554


@contextmanager
def _one_worker_at_a_time(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, hold an advisory lock while the tables are made or moved on: workers start together,
    and two creating the same table at once would fail. SQLite's file lock does this for it."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection, connection.begin():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        yield


def connect(url: str) -> Database:
    """Open the database at `url` and create any missing tables (a SQLite file's folder too)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # As many connections kept as threads may read at once (a request's thread, the job's, the access
        # log's): one opened per request beyond the pool, with its pragmas, costs more than the read.
        engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=48, max_overflow=16)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    with _one_worker_at_a_time(engine):
        _drop_lists_from_before_the_review_lists(engine)
        _add_client_to_the_access_log(engine)
        Base.metadata.create_all(engine)
        _lists_indexed_as_declared(engine)
    return Database(engine, sessionmaker(engine, expire_on_commit=False))
