"""Publishing snapshots: the only figures anyone sees. Live counts are never shown.

A new snapshot is published when the figures have changed and the last one is older than the
interval (or when an admin asks, or when the last one had no answers at all). Reading a report
never waits for that: the app publishes a due snapshot in the background (bot/app.py). Its
hidden figures are chosen against every earlier snapshot too, so that no comparison of
snapshots gives a small group away. With no answers yet nothing is stored: an empty report is
shown instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.disclosure import Line, Sheet, Status, protect, status_of
from bot.flow import Survey
from bot.reporting.figures import TOTAL_COLUMN, Figure, build, lines_for
from storage.store import CampaignInfo, Store, StoredSnapshot, TallyKey

logger = logging.getLogger(__name__)
NEWER_COMING = "Newer figures are being checked for publishing"
"""What a report read says while a due snapshot is published in the background."""


@dataclass(frozen=True, kw_only=True)
class Published:
    """A snapshot opened for rendering: shown figures and how each hidden one is labelled."""

    id: int
    published_at: dt.datetime
    shown: dict[Figure, int]
    statuses: dict[Figure, Status]
    dimensions: dict[str, list[str]]
    reached: int
    answered: int

    def get(self, *key: str) -> int | None:
        """A figure's value, or None when it is hidden (or does not exist)."""
        return self.shown.get(key)

    def status(self, *key: str) -> Status:
        return self.statuses.get(key, Status.SHOWN)

    @property
    def empty(self) -> bool:
        """Whether no answer has reached the totals yet."""
        return self.id == 0


def _values(snapshot: StoredSnapshot) -> dict[Figure, int]:
    return {tuple(k): int(v) for k, v in snapshot.content["values"]}


def _hidden(snapshot: StoredSnapshot) -> frozenset[Figure]:
    return frozenset(tuple(k) for k in snapshot.content["hidden"])


def _sheet(snapshot: StoredSnapshot) -> Sheet[Figure]:
    return Sheet(_values(snapshot), lines_for(snapshot.content["dimensions"]), _hidden(snapshot))


def open_snapshot(snapshot: StoredSnapshot, threshold: int) -> Published:
    values, hidden = _values(snapshot), _hidden(snapshot)
    content = snapshot.content
    return Published(
        id=snapshot.id,
        published_at=snapshot.published_at,
        shown={k: v for k, v in values.items() if k not in hidden},
        statuses={k: status_of(values[k], True, threshold) for k in hidden},
        dimensions=content["dimensions"],
        reached=content["reached"],
        answered=content["answered"],
    )


def banded(tally: Mapping[TallyKey, int], survey: Survey) -> dict[TallyKey, int]:
    """The tally with each level answer counted in its reporting band (if bands are set)."""
    org = survey.org
    if not org.reporting.level_bands:
        return dict(tally)
    out: dict[TallyKey, int] = {}
    for (kq, level, function, location), count in tally.items():
        key = (kq, org.report_unit("level", level) if level else "", function, location)
        out[key] = out.get(key, 0) + count
    return out


async def latest(
    store: Store,
    campaign: CampaignInfo,
    survey: Survey,
    *,
    clock: Callable[[], dt.datetime],
    interval: dt.timedelta,
) -> tuple[Published | None, bool]:
    """The latest published snapshot (None when there is none yet), and whether a newer one
    is due: the interval has passed and the figures have changed since (no audit run)."""
    stored = await store.snapshots(campaign.id)
    if not stored:
        return None, True
    last = stored[-1]
    shown = open_snapshot(last, survey.org.reporting.threshold)
    if clock() - last.published_at < interval:
        return shown, False
    values, _, units = await _figures(store, campaign, survey)
    return shown, not _same(last, values, units)


def _same(snapshot: StoredSnapshot, values: Mapping[Figure, int], units: Any) -> bool:
    """Whether a stored snapshot holds these very figures and reporting units."""
    return _values(snapshot) == values and snapshot.content["dimensions"] == units


async def _figures(
    store: Store, campaign: CampaignInfo, survey: Survey
) -> tuple[dict[Figure, int], list[Line[Figure]], dict[str, list[str]]]:
    """The campaign's figures now, from its tally: values, lines and reporting units."""
    dimensions = {d: survey.org.report_units(d) for d in survey.org.followups}
    tally = banded(await store.tally(campaign.id), survey)
    return build(tally, survey.question, dimensions)


async def current(
    store: Store,
    campaign: CampaignInfo,
    survey: Survey,
    *,
    clock: Callable[[], dt.datetime],
    interval: dt.timedelta,
    force: bool = False,
) -> Published:
    """The snapshot to show: the latest, or a new one if due (or forced) and anything changed.

    A snapshot is stored only if none was published while it was being protected (another
    request or process); otherwise it is protected again against that one too."""
    while True:
        published = await _current(
            store, campaign, survey, clock=clock, interval=interval, force=force
        )
        if published is not None:
            return published
        logger.info("a report snapshot was published meanwhile; protecting against it too")


async def _current(
    store: Store,
    campaign: CampaignInfo,
    survey: Survey,
    *,
    clock: Callable[[], dt.datetime],
    interval: dt.timedelta,
    force: bool,
) -> Published | None:
    threshold = survey.org.reporting.threshold
    earlier = await store.snapshots(campaign.id)
    latest = earlier[-1] if earlier else None
    if (
        latest is not None
        and not force
        and clock() - latest.published_at < interval
        and _values(latest).get(("all", TOTAL_COLUMN), 0) > 0
    ):
        return open_snapshot(latest, threshold)
    values, lines, units = await _figures(store, campaign, survey)
    reached, answered = await store.people(campaign.id)
    if latest is not None and _same(latest, values, units):
        return open_snapshot(latest, threshold)
    if values.get(("all", TOTAL_COLUMN), 0) == 0:
        # Nothing to publish: an empty report, never stored, so it cannot block the next one.
        return Published(
            id=0,
            published_at=clock(),
            shown={},
            statuses={},
            dimensions=units,
            reached=reached,
            answered=answered,
        )
    # Seconds of linear programmes once the history is long (bench/report_history.py): in a
    # worker thread, so conversations on the same process keep being answered meanwhile.
    hidden = await asyncio.to_thread(
        protect, values, lines, threshold, earlier=[_sheet(s) for s in earlier]
    )
    content: dict[str, Any] = {
        "values": [[list(k), v] for k, v in values.items()],
        "hidden": [list(k) for k in sorted(hidden)],
        "dimensions": units,
        "reached": reached,
        "answered": answered,
    }
    stored = await store.add_snapshot(
        campaign.id, content, after=latest.id if latest is not None else None
    )
    if stored is None:
        return None
    logger.info(
        "published report snapshot %d (%d figures, %d hidden)", stored.id, len(values), len(hidden)
    )
    return open_snapshot(stored, threshold)
