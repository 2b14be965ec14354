"""Publishing snapshots: the only figures anyone sees. Live counts are never shown.

A new snapshot is published when the figures have changed and the last one is older than the
interval (or when an admin asks). Its hidden figures are chosen against every earlier snapshot
too, so that no two snapshots differ by a group smaller than the threshold.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.disclosure import protect
from bot.flow import Survey
from bot.reporting.figures import CLASSIFIED_COLUMN, NOT_STATED, Figure, build
from storage.store import CampaignInfo, Store, StoredSnapshot
from survey.content import Group

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Published:
    """A snapshot opened for rendering: shown figures only, plus what it was built on."""

    id: int
    published_at: dt.datetime
    shown: dict[Figure, int]
    dimensions: dict[str, list[str]]
    reached: int
    answered: int
    level_shares: tuple[tuple[str, float, float], ...] = ()
    """(level, working-class share, professional share) for each level whose three-group
    total is shown, bottom to top: what the shape call is judged on."""

    def get(self, *key: str) -> int | None:
        """A figure's value, or None when it is hidden (or does not exist)."""
        return self.shown.get(key)


def _values(snapshot: StoredSnapshot) -> dict[Figure, int]:
    return {tuple(k): int(v) for k, v in snapshot.content["values"]}


def _hidden(snapshot: StoredSnapshot) -> set[Figure]:
    return {tuple(k) for k in snapshot.content["hidden"]}


def open_snapshot(snapshot: StoredSnapshot) -> Published:
    values, hidden = _values(snapshot), _hidden(snapshot)
    content = snapshot.content
    level_shares = []
    for unit in content["dimensions"].get("level", []):
        classified = ("level", unit, CLASSIFIED_COLUMN)
        if unit == NOT_STATED or classified in hidden or not values[classified]:
            continue
        total = values[classified]
        level_shares.append(
            (
                unit,
                values["level", unit, Group.WORKING_CLASS.value] / total,
                values["level", unit, Group.PROFESSIONAL.value] / total,
            )
        )
    return Published(
        level_shares=tuple(level_shares),
        id=snapshot.id,
        published_at=snapshot.published_at,
        shown={k: v for k, v in values.items() if k not in hidden},
        dimensions=content["dimensions"],
        reached=content["reached"],
        answered=content["answered"],
    )


async def current(
    store: Store,
    campaign: CampaignInfo,
    survey: Survey,
    *,
    clock: Callable[[], dt.datetime],
    interval: dt.timedelta,
    force: bool = False,
) -> Published:
    """The snapshot to show: the latest, or a new one if due (or forced) and anything changed."""
    earlier = await store.snapshots(campaign.id)
    latest = earlier[-1] if earlier else None
    if latest is not None and not force and clock() - latest.published_at < interval:
        return open_snapshot(latest)
    dimensions = {d: list(f.options) for d, f in survey.org.followups.items()}
    tally = await store.tally(campaign.id)
    values, lines = build(tally, survey.question, dimensions)
    reached, answered = await store.people(campaign.id)
    if (
        latest is not None
        and _values(latest) == values
        and latest.content["dimensions"] == _units(values, dimensions)
    ):
        return open_snapshot(latest)
    threshold = survey.org.reporting.threshold
    hidden = protect(values, lines, threshold, earlier=[(_values(s), _hidden(s)) for s in earlier])
    content: dict[str, Any] = {
        "values": [[list(k), v] for k, v in values.items()],
        "hidden": [list(k) for k in sorted(hidden)],
        "dimensions": _units(values, dimensions),
        "reached": reached,
        "answered": answered,
    }
    stored = await store.add_snapshot(campaign.id, content)
    logger.info(
        "published report snapshot %d (%d figures, %d hidden)", stored.id, len(values), len(hidden)
    )
    return open_snapshot(stored)


def _units(values: dict[Figure, int], dimensions: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each breakdown's units in order, as the figures have them."""
    units: dict[str, list[str]] = {d: [] for d in dimensions}
    for key in values:
        if key[0] in units and key[1] not in units[key[0]]:
            units[key[0]].append(key[1])
    return units
