"""A report as phone text (chat), wide tables (terminal), CSV or JSON.

A hidden count reads "fewer than N" only when it is under the threshold; one hidden to protect
another says so. CSV and JSON carry a status per cell, never a hidden value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from bot.disclosure import FOOTNOTE, Status, describe
from bot.reporting.report import Breakdown, GroupFigure, Report, Row
from survey.content import CLASSIFIED

TITLES = {"level": "By level (bottom to top)", "function": "By function", "location": "By location"}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _gap(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = (f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join((first, *rest)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _rate(rate: float, target: float) -> tuple[str, str]:
    """A rate and its target as percentages that never look equal when they differ."""
    for digits in (0, 1, 2):
        shown = f"{rate:.{digits}%}", f"{target:.{digits}%}"
        if (shown[0] == shown[1]) == (rate == target):
            return shown
    return shown


def _response(rate: float | None, headcount: int | None, target: float) -> str:
    if rate is None or not headcount:
        return ""
    if rate > 1:
        return f"response unclear: more answers than the {headcount} staff keyq.toml gives"
    pct, goal = _rate(rate, target)
    verdict = "below target" if rate < target else "target met"
    return f"response {pct} of {headcount} ({verdict}, {goal})"


def header_lines(report: Report) -> list[str]:
    t = report.threshold
    lines = [f"{report.campaign_title}: report"]
    if report.snapshot:
        lines[0] += f" {report.snapshot}, {report.published_at:%d %b %Y}"
    total = report.overall.answers
    if total is None:
        lines.append(f"Answers in the totals: {describe(total, t, report.overall.answers_status)}.")
    else:
        counted = f"{total} answer{'s' if total != 1 else ''} in the totals"
        if report.waiting:
            verb = "was" if report.waiting == 1 else "were"
            counted += (
                f"; {report.waiting} more {verb} waiting to join (answers join in batches "
                f"of {t} or more, so nobody can be picked out)"
            )
        lines.append(counted + ".")
    if report.reached is not None:
        lines.append(f"People asked: {report.reached}.")
    if report.headcount and report.response_rate is not None:
        response = _response(report.response_rate, report.headcount, report.response_rate_target)
        lines.append(f"R{response[1:]}.")
    return lines


def _group_line(figure: GroupFigure, threshold: int) -> str:
    count = describe(figure.count, threshold, figure.status)
    if figure.share is None:
        return f"{figure.label}: {count}"
    detail = f"{figure.share:.0%}"
    if figure.national_gap_points is not None:
        detail += f", UK {figure.national_gap_points:+.0f} pts"
    if figure.sector_gap_points is not None:
        detail += f", sector {figure.sector_gap_points:+.0f}"
    return f"{figure.label}: {count} ({detail})"


def text(report: Report, *, breakdowns: Sequence[str] | None = None) -> str:
    """The report for a phone: short lines, one unit after another, no wide table.

    Paragraphs are separated by blank lines (Slack shows each as its own section).
    """
    t = report.threshold
    paragraphs = ["\n".join(header_lines(report))]
    if report.advice:
        paragraphs.append("\n".join(report.advice))
    if report.overall.answers == 0:
        return "\n\n".join(paragraphs)
    benchmark = f"UK: {report.national_benchmark}"
    if report.sector_benchmark:
        benchmark += f"; sector: {report.sector_benchmark}"
    overall = [f"All ({benchmark}; shares of the three groups, gaps in points)"]
    overall += [_group_line(f, t) for f in report.overall.groups]
    paragraphs.append("\n".join(overall))
    for breakdown in report.breakdowns:
        if breakdowns is not None and breakdown.dimension not in breakdowns:
            continue
        paragraphs.append(f"{TITLES.get(breakdown.dimension, breakdown.dimension)}:")
        for row in breakdown.rows:
            if row.answers is not None:
                head = f"{row.unit}: {row.answers} answers"
            elif row.answers_status is Status.PROTECTING:
                head = f"{row.unit}: answers hidden to protect a small group"
            else:
                head = f"{row.unit}: fewer than {t} answers"
            response = _response(row.response_rate, row.headcount, report.response_rate_target)
            if response:
                head += f"; {response}"
            lines = [head]
            lines += [f"  {_group_line(f, t)}" for f in row.groups]
            paragraphs.append("\n".join(lines))
    if report.shape is not None and (breakdowns is None or "level" in breakdowns):
        paragraphs.append(report.shape.explanation)
    paragraphs.append(FOOTNOTE.format(t=t))
    return "\n\n".join(paragraphs)


def table(report: Report, *, breakdowns: Sequence[str] | None = None) -> str:
    """The report as wide text tables, for a terminal."""
    t = report.threshold
    lines = [*header_lines(report), ""]
    header = ["Group", "Count", "Share", "UK", "Gap"]
    sector = report.sector_benchmark
    if sector:
        header += ["Sector", "Gap"]
    rows = []
    for figure in report.overall.groups:
        cells = [
            figure.label,
            _short(figure.count, t, figure.status),
            _pct(figure.share),
            _pct(figure.national),
            _gap(figure.national_gap_points),
        ]
        if sector:
            cells += [_pct(figure.sector), _gap(figure.sector_gap_points)]
        rows.append(cells)
    lines += _table(header, rows)
    lines.append(
        f"Shares are of the three groups; UK is the {report.national_benchmark}"
        + (f", sector is {sector}" if sector else "")
        + "; gaps in points."
    )
    for breakdown in report.breakdowns:
        if breakdowns is None or breakdown.dimension in breakdowns:
            lines += ["", *_breakdown(breakdown, report)]
    if report.shape is not None and (breakdowns is None or "level" in breakdowns):
        lines += ["", report.shape.explanation]
    if report.advice:
        lines += ["", *report.advice]
    lines += [
        "",
        f"<{t}: fewer than {t}. hidden*: hidden to protect a small group.",
        FOOTNOTE.format(t=t),
    ]
    return "\n".join(lines)


def _short(count: int | None, threshold: int, status: Status) -> str:
    """A count in a table cell: the number, "<10", or "hidden*"."""
    if count is not None:
        return str(count)
    return "hidden*" if status is Status.PROTECTING else f"<{threshold}"


def _breakdown(breakdown: Breakdown, report: Report) -> list[str]:
    threshold = report.threshold
    if not breakdown.rows:
        return [f"{TITLES.get(breakdown.dimension, breakdown.dimension)}: no answers yet"]
    header = ["", "Answers", *(g.label for g in breakdown.rows[0].groups)]
    header[0] = TITLES.get(breakdown.dimension, breakdown.dimension)
    has_headcount = any(r.headcount for r in breakdown.rows)
    if has_headcount:
        header += ["Response"]
    rows = []
    for row in breakdown.rows:
        cells = [row.unit, _short(row.answers, threshold, row.answers_status)]
        for figure in row.groups:
            share = f" ({figure.share:.0%})" if figure.share is not None else ""
            cells.append(_short(figure.count, threshold, figure.status) + share)
        if has_headcount:
            flag = "!" if row.below_target else ""
            rate = row.response_rate
            pct = _rate(rate, report.response_rate_target)[0] if rate is not None else "-"
            cells.append(f"{pct}{flag}" if row.headcount else "")
        rows.append(cells)
    out = _table(header, rows)
    if has_headcount:
        out.append("! below the response-rate target")
    return out


def rows_for_csv(report: Report, breakdowns: Sequence[str] | None = None) -> list[tuple[str, Row]]:
    selected = [("all", report.overall)]
    for b in report.breakdowns:
        if breakdowns is None or b.dimension in breakdowns:
            selected += [(b.dimension, r) for r in b.rows]
    return selected


def csv_text(report: Report, *, breakdowns: Sequence[str] | None = None) -> str:
    """One line per group per unit; a hidden count is empty, its ``status`` says why."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "campaign",
            "snapshot",
            "breakdown",
            "unit",
            "group",
            "count",
            "status",
            "share",
            "national",
            "national_gap_points",
            "sector",
            "sector_gap_points",
            "headcount",
            "response_rate",
        ]
    )
    for dimension, row in rows_for_csv(report, breakdowns):
        for figure in row.groups:
            classified = figure.group in CLASSIFIED
            writer.writerow(
                [
                    report.campaign,
                    report.snapshot,
                    dimension,
                    row.unit,
                    figure.group.value,
                    "" if figure.count is None else figure.count,
                    figure.status.value,
                    _num(figure.share),
                    _num(figure.national if classified else None),
                    _num(figure.national_gap_points),
                    _num(figure.sector if classified else None),
                    _num(figure.sector_gap_points),
                    row.headcount or "",
                    _num(row.response_rate),
                ]
            )
    return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def json_text(report: Report, *, breakdowns: Sequence[str] | None = None) -> str:
    if breakdowns is not None:
        report = report.model_copy(
            update={"breakdowns": [b for b in report.breakdowns if b.dimension in breakdowns]}
        )
    return report.model_dump_json(indent=2)
