"""In ``keyq serve``: APScheduler runs the reminder loop; one process at a time starts waves.

On PostgreSQL the process holding an advisory lock is the scheduler; if it dies its session
ends, the lock is freed, and another process takes over at its next tick. Every process sends
from the outbox (rows are claimed with FOR UPDATE SKIP LOCKED; the pace is shared in the
database). On SQLite there is one process, which does both.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from bot.reminders.service import Reminders
from storage.store import Store

logger = logging.getLogger(__name__)

LEADER_LOCK = 7_205_118


class ReminderLoop:
    """Ticks every ``every`` seconds: the leader starts due waves; everyone sends."""

    def __init__(self, *, reminders: Reminders, store: Store, every: float = 60) -> None:
        self._reminders = reminders
        self._store = store
        self._every = every
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._lock_conn: Any = None

    async def start(self) -> None:
        self._scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self._every),
            max_instances=1,
            coalesce=True,
            id="keyq-reminders",
        )
        self._scheduler.start()
        await self.tick()  # catch up at once on what fell due while keyq was down

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._lock_conn is not None:
            # Hand the lead over at once: the server frees a dropped session's locks only when
            # its backend notices the disconnect, which can be later than the next process asks.
            try:
                await self._lock_conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_LOCK}
                )
                await self._lock_conn.commit()
            except Exception as exc:  # the drop below frees it anyway, a little later
                logger.warning("could not hand over the reminder lead (%s)", type(exc).__name__)
            # Drop the connection itself: a pooled one would keep holding the session lock.
            await self._lock_conn.invalidate()
            self._lock_conn = None

    async def is_leader(self) -> bool:
        if self._store.engine.dialect.name == "sqlite":
            return True
        if self._lock_conn is None:
            self._lock_conn = await self._store.engine.connect()
        try:
            held = await self._lock_conn.scalar(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK}
            )
            await self._lock_conn.commit()
            return bool(held)
        except Exception:
            await self._lock_conn.invalidate()
            self._lock_conn = None
            return False

    async def tick(self) -> None:
        try:
            if await self.is_leader():
                await self._reminders.run_due()
            else:
                await self._reminders.send_outbox()
        except Exception as exc:  # the loop must keep going; the error is logged without data
            logger.error("reminder tick failed (%s)", type(exc).__name__)
