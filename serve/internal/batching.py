"""Micro-batching: concurrent scoring calls share one pass of the library's frame code.

Building features, scoring and explaining cost about the same for one charity as for a few
dozen, since most of the time is fixed per-call overhead. So calls are queued, and one worker
takes everything waiting (up to a limit) and runs it as one batch on a scoring thread. Nothing
waits on a timer: a lone call starts at once, and batches grow only while the thread is busy.
If a batch fails, each call in it is run again on its own, so one bad call fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Work = Callable[[Hashable, list[Any]], Sequence[Any]]


class MicroBatcher:
    """Runs `work(key, items)` on batches of items submitted concurrently under the same key."""

    def __init__(self, work: Work, max_items: int) -> None:
        self._work = work
        self._max_items = max_items
        self._queue: asyncio.Queue[tuple[Hashable, list[Any], asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring")
        self._task = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, key: Hashable, items: list[Any]) -> list[Any]:
        """The results of `work` for these items, computed with whatever else is waiting."""
        if self._queue is None:
            raise RuntimeError("the batcher has not been started")
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((key, items, future))
        return await future

    def _take_waiting(self) -> list[tuple[Hashable, list[Any], asyncio.Future]]:
        jobs, count = [], 0
        while count < self._max_items and not self._queue.empty():
            job = self._queue.get_nowait()
            jobs.append(job)
            count += len(job[1])
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get(), *self._take_waiting()]
            by_key: dict[Hashable, list] = {}
            for job in jobs:
                by_key.setdefault(job[0], []).append(job)
            for key, group in by_key.items():
                await self._run_group(loop, key, group)

    async def _run_group(self, loop, key: Hashable, group: list) -> None:
        items = [item for _, job_items, _ in group for item in job_items]
        try:
            results = await loop.run_in_executor(self._executor, self._work, key, items)
        except Exception as exc:
            if len(group) > 1:
                # One caller's items broke the batch: run each caller alone, so only that one fails.
                for job in group:
                    await self._run_group(loop, key, [job])
                return
            if not group[0][2].done():
                group[0][2].set_exception(exc)
            return
        start = 0
        for _, job_items, future in group:
            if not future.done():
                future.set_result(list(results[start:start + len(job_items)]))
            start += len(job_items)
