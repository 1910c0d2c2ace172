"""Watching the registry's champion alias: whether the served champion is still the registry's, and, when
asked to, following the alias (a reload as soon as it names another version).

Every `check_alias_seconds` (or `follow_alias_seconds`, when following) a background task reads which
version the alias names, without loading it, and the holder remembers it: `/health` says `stale` and
`/version` says which version the registry names while the two differ. `/version` reads the alias too,
at most every `version_reads_alias_seconds`. With several workers each watches, and follows, on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi.concurrency import run_in_threadpool

from serve.internal.db import Database, utc_now
from serve.internal.registry import ChampionUnavailable, champion_version
from serve.internal.state import ServingHolder
from serve.settings import Settings

log = logging.getLogger(__name__)


def check_alias(holder: ServingHolder, settings: Settings) -> str | None:
    """Read the alias now and remember it; the version it names (blocking: MLflow is asked)."""
    version = champion_version(settings)
    holder.note_registry(version)
    return version


def check_alias_unless_recent(holder: ServingHolder, settings: Settings) -> None:
    """Read the alias unless it was read less than `version_reads_alias_seconds` ago (GET /version)."""
    checked = holder.registry_checked_at
    if checked is None or (utc_now() - checked).total_seconds() >= settings.version_reads_alias_seconds:
        check_alias(holder, settings)


class AliasWatch:
    """The background task that reads the alias, and reloads when following and it moved."""

    def __init__(self, holder: ServingHolder, db: Database, settings: Settings) -> None:
        self._holder, self._db, self._settings = holder, db, settings
        self.follow = settings.follow_alias_seconds > 0
        self.interval_s = settings.follow_alias_seconds if self.follow else settings.check_alias_seconds
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._run(), name="alias-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await run_in_threadpool(self.once)
            except Exception:
                log.exception("the registry's champion alias could not be read; trying again in %s s",
                              self.interval_s)

    def once(self) -> None:
        """One look at the alias, and a reload when following and it names another version."""
        named = check_alias(self._holder, self._settings)
        if not (self.follow and self._holder.stale and named is not None):
            return
        log.info("the champion alias now names version %s: reloading", named)
        try:
            self._holder.reload(self._db, self._settings)
        except ChampionUnavailable as exc:
            log.error("could not follow the champion alias to version %s: %s", named, exc)
