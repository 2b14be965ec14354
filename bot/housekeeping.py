"""In ``keyq serve``: forget what privacy.md says must not outlive its use, on a schedule.

Every few minutes: expired conversations are deleted (an answer left before its optional
follow-ups is completed as it stands), event digests older than a week go, any campaign with a
full batch of answers waiting has it moved into the totals, and what is left of moved answers
and ended conversations is cleared (never on a turn): on PostgreSQL their dead row versions are
vacuumed away, on SQLite the write-ahead log is emptied into the database.
Several processes may run this at once: each step is idempotent.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from storage.store import Store

logger = logging.getLogger(__name__)


class Housekeeping:
    def __init__(self, *, store: Store, batch: int, every_minutes: float = 2) -> None:
        self._store = store
        self._batch = batch
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._every = every_minutes

    async def start(self) -> None:
        self._scheduler.add_job(
            self.run,
            IntervalTrigger(minutes=self._every),
            max_instances=1,
            coalesce=True,
            id="keyq-housekeeping",
        )
        self._scheduler.start()
        await self.run()

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def run(self) -> None:
        try:
            forgotten = await self._store.purge()
            moved = await self._store.flush_ready(batch=self._batch)
            await self._store.vacuum()
        except Exception as exc:  # keep going; the error is logged without data
            logger.error("housekeeping failed (%s)", type(exc).__name__)
            return
        if forgotten or moved:
            logger.info(
                "housekeeping: %d conversations forgotten, %d answers moved", forgotten, moved
            )
