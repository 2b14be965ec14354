"""A campaign's report, assembled from a published snapshot: the shape every output renders."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from bot.disclosure import Status
from bot.flow import Survey
from bot.reporting.figures import CLASSIFIED_COLUMN, NOT_STATED, TOTAL_COLUMN
from bot.reporting.shape import ShapeKind, classify
from bot.reporting.snapshots import Published
from storage.store import CampaignInfo
from survey.content import CLASSIFIED, Benchmark, Group, benchmarks


class GroupFigure(BaseModel):
    """One group in one row: its count, its share of the three groups, and the benchmarks.

    A hidden count is null, and ``status`` says why: ``small`` (under the threshold) or
    ``protecting`` (at least the threshold, hidden so that a small one cannot be worked out).
    """

    group: Group
    label: str
    count: int | None
    status: Status = Status.SHOWN
    share: float | None = None
    national: float | None = None
    national_gap_points: float | None = None
    sector: float | None = None
    sector_gap_points: float | None = None


class Row(BaseModel):
    """The whole campaign, or one unit of a breakdown."""

    unit: str
    answers: int | None
    answers_status: Status = Status.SHOWN
    classified: int | None
    classified_status: Status = Status.SHOWN
    groups: list[GroupFigure]
    headcount: int | None = None
    response_rate: float | None = None
    below_target: bool | None = None


class Breakdown(BaseModel):
    """A breakdown by one follow-up; for ``level`` the rows run from the bottom level up."""

    dimension: str
    rows: list[Row]


class ShapeCall(BaseModel):
    """The shape of working-class representation by level, judged on shown shares only."""

    kind: ShapeKind
    explanation: str
    working_class_by_level: list[tuple[str, float]]
    professional_by_level: list[tuple[str, float]]
    drop_between: tuple[str, str] | None = None


class Report(BaseModel):
    """Everything an admin may see about a campaign. Hidden figures are null.

    ``answered`` and ``reached`` are shown only with the snapshot's own total (so they can never
    stand in for a hidden one); ``waiting`` is how many answered after the snapshot or wait for
    their batch of answers to join the totals.
    """

    campaign: str
    campaign_title: str
    snapshot: int
    published_at: dt.datetime
    threshold: int
    national_benchmark: str
    sector_benchmark: str | None
    response_rate_target: float
    reached: int | None
    answered: int | None
    waiting: int | None = None
    headcount: int | None
    response_rate: float | None
    below_target: bool | None
    overall: Row
    breakdowns: list[Breakdown]
    shape: ShapeCall | None
    advice: list[str] = []
    """What would let more figures be shown, when most are hidden."""


def assemble(snapshot: Published, campaign: CampaignInfo, survey: Survey) -> Report:
    """Builds the report of a snapshot; only figures the snapshot shows reach it."""
    org = survey.org
    threshold = org.reporting.threshold
    target = org.reporting.response_rate_target
    national = benchmarks().national
    sector = benchmarks().sectors.get(org.organisation.sector or "")

    def row(prefix: tuple[str, ...], unit: str, headcount: int | None) -> Row:
        classified = snapshot.get(*prefix, CLASSIFIED_COLUMN)
        answers = snapshot.get(*prefix, TOTAL_COLUMN)
        if snapshot.empty:
            classified = answers = 0
        figures = []
        for group in Group:
            count = 0 if snapshot.empty else snapshot.get(*prefix, group.value)
            figure = GroupFigure(
                group=group,
                label=survey.question.groups[group],
                count=count,
                status=snapshot.status(*prefix, group.value),
            )
            if group in CLASSIFIED:
                share = count / classified if count is not None and classified else None
                figure = _with_benchmarks(figure, share, national, sector)
            figures.append(figure)
        rate = answers / headcount if answers is not None and headcount else None
        return Row(
            unit=unit,
            answers=answers,
            answers_status=snapshot.status(*prefix, TOTAL_COLUMN),
            classified=classified,
            classified_status=snapshot.status(*prefix, CLASSIFIED_COLUMN),
            groups=figures,
            headcount=headcount,
            response_rate=rate,
            below_target=None if rate is None else rate < target,
        )

    breakdowns = []
    for dimension, units in snapshot.dimensions.items():
        breakdowns.append(
            Breakdown(
                dimension=dimension,
                rows=[
                    row((dimension, unit), unit, org.unit_headcount(dimension, unit))
                    for unit in units
                ],
            )
        )
    overall = row(("all",), "All", org.organisation.headcount)
    total = overall.answers
    reached = answered = waiting = None
    if total is not None:  # people counts follow the same rule as any count: 10 or more
        reached = snapshot.reached if snapshot.reached >= threshold else None
        if snapshot.answered >= threshold:
            answered, waiting = snapshot.answered, max(snapshot.answered - total, 0)
    return Report(
        campaign=campaign.id,
        campaign_title=campaign.title,
        snapshot=snapshot.id,
        published_at=snapshot.published_at,
        threshold=threshold,
        national_benchmark=national.name,
        sector_benchmark=sector.name if sector else None,
        response_rate_target=target,
        reached=reached,
        answered=answered,
        waiting=waiting,
        headcount=overall.headcount,
        response_rate=overall.response_rate,
        below_target=overall.below_target,
        overall=overall,
        breakdowns=breakdowns,
        shape=_shape(breakdowns),
        advice=_advice(overall, breakdowns, snapshot, survey),
    )


def _with_benchmarks(
    figure: GroupFigure, share: float | None, national: Benchmark, sector: Benchmark | None
) -> GroupFigure:
    """Adds the share (when it can be shown), the benchmarks, and the gaps in points."""
    update: dict[str, float | None] = {"share": share}
    for name, benchmark in (("national", national), ("sector", sector)):
        if benchmark is None:
            continue
        expected = benchmark.share(figure.group)
        update[name] = expected
        update[f"{name}_gap_points"] = None if share is None else round((share - expected) * 100, 1)
    return figure.model_copy(update=update)


def _advice(
    overall: Row, breakdowns: list[Breakdown], snapshot: Published, survey: Survey
) -> list[str]:
    """Why most figures are hidden, and what would let more be shown."""
    if snapshot.empty:
        return [
            "No answers have reached the totals yet: they join in batches of 10 or more. "
            "Share the question (or schedule reminders) and look again soon."
        ]
    cells = [g for r in (overall, *(r for b in breakdowns for r in b.rows)) for g in r.groups]
    hidden = sum(1 for g in cells if g.count is None)
    if hidden * 2 < len(cells):
        return []
    threshold = survey.org.reporting.threshold
    tips = [
        f"Most figures are hidden because the groups behind them are small (under {threshold} "
        "people each, or needed to keep one hidden). What helps:",
        "- more answers: a reminder wave, or asking new joiners;",
        "- a yearly view: leave the year-round round open so answers build up;",
    ]
    level = next((b for b in breakdowns if b.dimension == "level"), None)
    if level is not None and len(level.rows) > 2 and not survey.org.reporting.level_bands:
        tips.append(
            "- fewer, wider levels for reporting, for example in keyq.toml: [reporting] "
            'level_bands = { "Frontline and team leaders" = ["Frontline", "Team leader"] } '
            "(people are still asked the same question)."
        )
    elif breakdowns:
        tips.append("- fewer, wider units in each breakdown.")
    return tips


def _shape(breakdowns: list[Breakdown]) -> ShapeCall | None:
    """Judges the shape only on shares a reader can see (levels whose working-class count and
    three-group total are both shown), so the call never tells anything about a hidden count."""
    level = next((b for b in breakdowns if b.dimension == "level"), None)
    if level is None:
        return None

    def shown(group: Group) -> list[tuple[str, float]]:
        out = []
        for row in level.rows:
            if row.unit == NOT_STATED:
                continue
            share = next(f.share for f in row.groups if f.group is group)
            if share is not None:
                out.append((row.unit, share))
        return out

    working = shown(Group.WORKING_CLASS)
    call = classify(working)
    between = (
        (call.steepest_from, call.steepest_to)
        if call.kind is ShapeKind.CLIFF_EDGE and call.steepest_from and call.steepest_to
        else None
    )
    return ShapeCall(
        kind=call.kind,
        explanation=call.explain(),
        working_class_by_level=working,
        professional_by_level=shown(Group.PROFESSIONAL),
        drop_between=between,
    )
