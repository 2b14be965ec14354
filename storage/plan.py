"""The organisation's action plan: tips adopted, done, and when an admin was last asked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from storage.store import Store
from storage.tables import Action


@dataclass(frozen=True, kw_only=True)
class PlannedAction:
    id: int
    tip_id: str
    status: str
    adopted_on: dt.date
    done_on: dt.date | None
    asked_on: dt.date | None = None


def _planned(row: Action) -> PlannedAction:
    return PlannedAction(
        id=row.id,
        tip_id=row.tip_id,
        status=row.status,
        adopted_on=row.adopted_on,
        done_on=row.done_on,
        asked_on=row.asked_on,
    )


class Plan:
    """Adopt, list, complete, and find actions due a check-in."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def adopt(self, tip_id: str, today: dt.date) -> tuple[PlannedAction, bool]:
        """Adds the tip as an open action; (action, False) if it is open already."""
        async with self._store.session() as session:
            existing = await session.scalar(
                select(Action).where(Action.tip_id == tip_id, Action.status == "open")
            )
            if existing is not None:
                return _planned(existing), False
            action = Action(tip_id=tip_id, status="open", adopted_on=today)
            session.add(action)
            await session.flush()
            return _planned(action), True

    async def actions(self) -> list[PlannedAction]:
        async with self._store.session() as session:
            rows = await session.scalars(select(Action).order_by(Action.status.desc(), Action.id))
            return [_planned(r) for r in rows]

    async def complete(self, action_id: int, today: dt.date) -> PlannedAction | None:
        """Marks an open action done; None if there is no such open action."""
        async with self._store.session() as session:
            action = await session.get(Action, action_id)
            if action is None or action.status != "open":
                return None
            action.status, action.done_on = "done", today
            return _planned(action)

    async def due_check_in(self, today: dt.date, every: dt.timedelta) -> PlannedAction | None:
        """The oldest open action not asked about for ``every``; marks it asked."""
        cutoff = today - every
        async with self._store.session() as session:
            action = await session.scalar(
                select(Action)
                .where(
                    Action.status == "open",
                    Action.adopted_on <= cutoff,
                    or_(Action.asked_on.is_(None), Action.asked_on <= cutoff),
                )
                .order_by(Action.adopted_on, Action.id)
                .limit(1)
            )
            if action is None:
                return None
            await session.execute(
                update(Action).where(Action.id == action.id).values(asked_on=today)
            )
            return _planned(action)

    async def snooze(self, action_id: int, today: dt.date) -> None:
        async with self._store.session() as session:
            await session.execute(
                update(Action).where(Action.id == action_id).values(asked_on=today)
            )
