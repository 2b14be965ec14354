"""A report as text (chat and terminal), CSV or JSON. Hidden figures read "fewer than N"."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from bot.disclosure import describe
from bot.reporting.report import Breakdown, Report, Row
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


def text(report: Report, *, breakdowns: Sequence[str] | None = None) -> str:
    """The report as plain text."""
    t = report.threshold
    lines = [
        f"{report.campaign_title} ({report.campaign}): snapshot {report.snapshot}, "
        f"published {report.published_at:%Y-%m-%d %H:%M} UTC",
        f"Counts under {t} are not shown, nor any that could be worked out from the others.",
        "",
        f"Answers in this snapshot: {describe(report.overall.answers, t)}. "
        f"People asked: {describe(report.reached, t)}; answered: {describe(report.answered, t)}.",
    ]
    if report.headcount:
        rate = _pct(report.response_rate)
        flag = " (below target)" if report.below_target else ""
        lines.append(
            f"Response rate: {rate} of {report.headcount} staff{flag}; target "
            f"{report.response_rate_target:.0%}."
        )
    lines.append("")
    header = ["Group", "Count", "Share", "UK", "Gap"]
    sector = report.sector_benchmark
    if sector:
        header += ["Sector", "Gap"]
    rows = []
    for figure in report.overall.groups:
        cells = [
            figure.label,
            describe(figure.count, t),
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
            lines += ["", *_breakdown(breakdown, t)]
    if report.shape is not None and (breakdowns is None or "level" in breakdowns):
        lines += ["", report.shape.explanation]
    return "\n".join(lines)


def _breakdown(breakdown: Breakdown, threshold: int) -> list[str]:
    header = ["", "Answers", *(g.label for g in breakdown.rows[0].groups)]
    header[0] = TITLES.get(breakdown.dimension, breakdown.dimension)
    has_headcount = any(r.headcount for r in breakdown.rows)
    if has_headcount:
        header += ["Response"]
    rows = []
    for row in breakdown.rows:
        cells = [row.unit, describe(row.answers, threshold)]
        for figure in row.groups:
            share = f" ({figure.share:.0%})" if figure.share is not None else ""
            cells.append(describe(figure.count, threshold) + share)
        if has_headcount:
            flag = "!" if row.below_target else ""
            cells.append(f"{_pct(row.response_rate)}{flag}" if row.headcount else "")
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
    """One line per group per unit; hidden counts are empty with ``hidden`` = yes."""
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
            "hidden",
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
                    "yes" if figure.count is None else "no",
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
