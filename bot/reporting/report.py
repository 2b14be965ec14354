"""A campaign's report, assembled from a published snapshot: the shape every output renders."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from pydantic import BaseModel

from bot.flow import Survey
from bot.reporting.figures import CLASSIFIED_COLUMN, TOTAL_COLUMN
from bot.reporting.shape import ShapeKind, classify
from bot.reporting.snapshots import Published
from storage.store import CampaignInfo
from survey.content import CLASSIFIED, Benchmark, Group, benchmarks


class GroupFigure(BaseModel):
    """One group in one row: its count, its share of the three groups, and the benchmarks."""

    group: Group
    label: str
    count: int | None
    share: float | None = None
    national: float | None = None
    national_gap_points: float | None = None
    sector: float | None = None
    sector_gap_points: float | None = None


class Row(BaseModel):
    """The whole campaign, or one unit of a breakdown."""

    unit: str
    answers: int | None
    classified: int | None
    groups: list[GroupFigure]
    headcount: int | None = None
    response_rate: float | None = None
    below_target: bool | None = None


class Breakdown(BaseModel):
    """A breakdown by one follow-up; for ``level`` the rows run from the bottom level up."""

    dimension: str
    rows: list[Row]


class ShapeCall(BaseModel):
    """The shape of working-class representation by level, and the figures behind the call."""

    kind: ShapeKind
    explanation: str
    working_class_by_level: list[tuple[str, float]]
    professional_by_level: list[tuple[str, float]]
    drop_between: tuple[str, str] | None = None


class Report(BaseModel):
    """Everything an admin may see about a campaign. Hidden figures are null."""

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
    headcount: int | None
    response_rate: float | None
    below_target: bool | None
    overall: Row
    breakdowns: list[Breakdown]
    shape: ShapeCall | None


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
        figures = []
        for group in Group:
            count = snapshot.get(*prefix, group.value)
            figure = GroupFigure(group=group, label=survey.question.groups[group], count=count)
            if group in CLASSIFIED:
                share = count / classified if count is not None and classified else None
                figure = _with_benchmarks(figure, share, national, sector)
            figures.append(figure)
        rate = answers / headcount if answers is not None and headcount else None
        return Row(
            unit=unit,
            answers=answers,
            classified=classified,
            groups=figures,
            headcount=headcount,
            response_rate=rate,
            below_target=None if rate is None else rate < target,
        )

    breakdowns = []
    for dimension, units in snapshot.dimensions.items():
        counts: dict[str, int] = getattr(org.headcount, dimension)
        breakdowns.append(
            Breakdown(
                dimension=dimension,
                rows=[row((dimension, unit), unit, counts.get(unit)) for unit in units],
            )
        )
    overall = row(("all",), "All", org.organisation.headcount)
    people = (snapshot.reached, snapshot.answered)
    reached, answered = (n if n >= threshold else None for n in people)
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
        headcount=overall.headcount,
        response_rate=overall.response_rate,
        below_target=overall.below_target,
        overall=overall,
        breakdowns=breakdowns,
        shape=_shape(snapshot, breakdowns),
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


def _empty_row(unit: str, headcount: int | None, survey: Survey, target: float) -> Row:
    """A unit nobody has chosen yet: no answers, so no group to protect."""
    groups = [GroupFigure(group=g, label=survey.question.groups[g], count=0) for g in Group]
    return Row(
        unit=unit,
        answers=0,
        classified=0,
        groups=groups,
        headcount=headcount,
        response_rate=0.0 if headcount else None,
        below_target=True if headcount else None,
    )


def _shape(snapshot: Published, breakdowns: list[Breakdown]) -> ShapeCall | None:
    """Judges the shape on the levels whose three-group total is shown, and quotes only the
    shares that may be shown, so the call never pins a hidden count."""
    level = next((b for b in breakdowns if b.dimension == "level"), None)
    if level is None:
        return None
    shown: dict[tuple[str, Group], float] = {}
    for row in level.rows:
        for figure in row.groups:
            if figure.share is not None:
                shown[row.unit, figure.group] = figure.share

    def shown_share(unit: str, group: Group) -> list[tuple[str, float]]:
        share = shown.get((unit, group))
        return [] if share is None else [(unit, share)]

    levels = [u for u, _, _ in snapshot.level_shares]
    working = [x for u in levels for x in shown_share(u, Group.WORKING_CLASS)]
    professional = [x for u in levels for x in shown_share(u, Group.PROFESSIONAL)]
    # The call is made on the true shares of levels whose total is shown; only shares that
    # may be shown are quoted, and a step with a hidden end is named without its size.
    true_call = classify([(u, w) for u, w, _ in snapshot.level_shares])
    quoted = dict(working)
    ends = (true_call.steepest_from, true_call.steepest_to)
    drop = quoted[ends[0]] - quoted[ends[1]] if ends[0] in quoted and ends[1] in quoted else None
    fall = (
        quoted[levels[0]] - quoted[levels[-1]]
        if levels and levels[0] in quoted and levels[-1] in quoted
        else None
    )
    call = replace(true_call, shares=tuple(working), steepest_drop=drop, total_fall=fall)
    between = (
        (call.steepest_from, call.steepest_to)
        if call.kind is ShapeKind.CLIFF_EDGE and call.steepest_from and call.steepest_to
        else None
    )
    return ShapeCall(
        kind=call.kind,
        explanation=call.explain(),
        working_class_by_level=working,
        professional_by_level=professional,
        drop_between=between,
    )
