"""List jobs: the lists of an as-of date that is not stored are built by a job, off the event loop, and
the job's status lives in the database (`list_job`), so that every worker sees it.

- One job per date at a time: a job holds its date and model version in the unique column `active`
  while queued or building, so a second request for the date, from any worker, joins it.
- One build at a time per worker process: its own builder thread takes its jobs in turn, and other
  dates wait, queued (with several workers, each builds one at a time; a date is still built once).
- Statuses: queued, building (step n of N, and what it is doing), done, failed (with the reason).
- A worker says every few seconds that its jobs are alive (`heartbeat_at`). A job whose worker has
  stopped (a restart) is marked failed, at once when the worker is known to be gone (a process of this
  host that no longer runs), else once its heartbeat is older than `stale_after_s`; asking for its
  date again starts a new job.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from serve.internal.building import ListKey, Progress
from serve.internal.db import Database, ListJob, utc_now

log = logging.getLogger(__name__)
QUEUED, BUILDING, DONE, FAILED = "queued", "building", "done", "failed"
ACTIVE = (QUEUED, BUILDING)
INTERRUPTED = "interrupted: the worker building it stopped (a restart?); ask for the date again to build it"
Build = Callable[[ListKey, Progress], None]
# The workers of this process (several only in tests, each app its own), so that none takes another for gone.
_LIVE: set[str] = set()


class JobInterrupted(RuntimeError):
    """The service is stopping: the job being built stops at its next step."""


class TooManyJobs(RuntimeError):
    """As many lists as the service takes are being built or waiting to be."""


def _active_key(key: ListKey) -> str:
    return f"{key.as_of.isoformat()}/{key.version}"


def _gone(worker: str) -> bool:
    """Whether a worker named `host:pid:token` is known to have stopped: a process of this host that no
    longer runs, or this very process id under another token (a restart that was given the same id)."""
    host, _, rest = worker.partition(":")
    pid, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return worker not in _LIVE
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class ListJobs:
    """Queues, runs and reports the list jobs of one worker process."""

    def __init__(self, db: Database, build: Build, max_active: int = 4, heartbeat_s: float = 3.0,
                 stale_after_s: float = 30.0) -> None:
        self._db = db
        self._build = build
        self._max_active = max_active
        self._heartbeat_s = heartbeat_s
        self._stale_after = timedelta(seconds=stale_after_s)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._run, name="list-builder", daemon=True),
                         threading.Thread(target=self._beat, name="list-heartbeat", daemon=True)]

    def start(self) -> ListJobs:
        _LIVE.add(self.worker)
        self.fail_interrupted()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop taking jobs: the one being built stops at its next step, and this worker's jobs are marked
        failed (interrupted)."""
        self._stopping.set()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout_s)
        _LIVE.discard(self.worker)
        with self._db.sessions.begin() as session:
            session.execute(update(ListJob).where(ListJob.worker == self.worker, ListJob.status.in_(ACTIVE))
                            .values(status=FAILED, reason=INTERRUPTED, active=None, finished_at=utc_now()))

    # --- asking --------------------------------------------------------------------------------

    def get(self, job_id: int) -> ListJob | None:
        with self._db.sessions() as session:
            return session.get(ListJob, job_id)

    def active(self, key: ListKey) -> ListJob | None:
        """The job building these lists now, if any (one whose worker has stopped is marked failed first)."""
        self.fail_interrupted()
        with self._db.sessions() as session:
            return session.scalar(select(ListJob).where(ListJob.active == _active_key(key)))

    def latest(self, key: ListKey) -> ListJob | None:
        """The last job for these lists, whatever its status."""
        with self._db.sessions() as session:
            return session.scalar(select(ListJob).where(ListJob.as_of == key.as_of,
                                                        ListJob.model_version == key.version)
                                  .order_by(ListJob.id.desc()).limit(1))

    def request(self, key: ListKey, requested_by: str) -> ListJob:
        """The job building these lists: the one already queued or building, or a new one (TooManyJobs
        when the service already has as many as it takes)."""
        found = self.active(key)
        if found is not None:
            return found
        now = utc_now()
        job = ListJob(as_of=key.as_of, model_version=key.version, status=QUEUED, step=0, steps=0,
                      stage="waiting for the builder", requested_by=requested_by, requested_at=now,
                      worker=self.worker, heartbeat_at=now, active=_active_key(key))
        try:
            with self._db.sessions.begin() as session:
                running = session.scalar(select(func.count()).select_from(ListJob).where(ListJob.status.in_(ACTIVE)))
                if running >= self._max_active:
                    raise TooManyJobs(f"{running} lists are being built or waiting to be, the most the service takes")
                session.add(job)
        except IntegrityError:
            # Another request, here or in another worker, queued the same date first: join its job.
            found = self.active(key)
            if found is not None:
                return found
            raise
        self._queue.put(job.id)
        return job

    # --- the worker's side -----------------------------------------------------------------------

    def fail_interrupted(self) -> int:
        """Mark failed the active jobs whose worker has stopped; how many."""
        now = utc_now()
        with self._db.sessions() as session:
            candidates = list(session.scalars(select(ListJob).where(
                ListJob.status.in_(ACTIVE), ListJob.worker != self.worker,
                or_(ListJob.heartbeat_at < now - self._stale_after, ListJob.worker.like(f"{socket.gethostname()}:%")))))
        stopped = [job.id for job in candidates if job.heartbeat_at < now - self._stale_after or _gone(job.worker)]
        if stopped:
            with self._db.sessions.begin() as session:
                session.execute(update(ListJob).where(ListJob.id.in_(stopped), ListJob.status.in_(ACTIVE))
                                .values(status=FAILED, reason=INTERRUPTED, active=None, finished_at=now))
            log.warning("list jobs %s were interrupted (their worker stopped) and are marked failed", stopped)
        return len(stopped)

    def _set(self, job_id: int, **values) -> None:
        with self._db.sessions.begin() as session:
            session.execute(update(ListJob).where(ListJob.id == job_id).values(**values))

    def _run(self) -> None:
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id is None:
                return
            self._run_one(job_id)

    def _run_one(self, job_id: int) -> None:
        job = self.get(job_id)
        if job is None or job.status != QUEUED:
            return  # marked failed meanwhile
        key = ListKey(job.as_of, job.model_version)
        self._set(job_id, status=BUILDING, started_at=utc_now(), stage="starting")

        def progress(step: int, steps: int, stage: str) -> None:
            if self._stopping.is_set():
                raise JobInterrupted("the service is stopping")
            self._set(job_id, step=step, steps=steps, stage=stage, heartbeat_at=utc_now())

        try:
            self._build(key, progress)
        except JobInterrupted:
            return
        except Exception as exc:
            log.exception("list job %s (lists as of %s, version %s) failed", job_id, key.as_of, key.version)
            self._set(job_id, status=FAILED, reason=f"{type(exc).__name__}: {exc}", active=None,
                      finished_at=utc_now())
            return
        if self._stopping.is_set():
            return  # stop() has marked it failed; its lists are stored all the same
        self._set(job_id, status=DONE, stage="stored", active=None, finished_at=utc_now())

    def _beat(self) -> None:
        while not self._stopping.wait(self._heartbeat_s):
            try:
                with self._db.sessions.begin() as session:
                    session.execute(update(ListJob).where(ListJob.worker == self.worker, ListJob.status.in_(ACTIVE))
                                    .values(heartbeat_at=utc_now()))
                self.fail_interrupted()
            except Exception:
                log.exception("list jobs: the heartbeat could not be written; trying again")
