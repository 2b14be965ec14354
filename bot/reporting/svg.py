"""Small inline SVG charts for the dashboard: plain shapes and attributes, no styles or scripts.

matplotlib's SVG carries inline ``style`` attributes and a ``<style>`` element, which a strict
Content-Security-Policy (no 'unsafe-inline') refuses when the SVG is inline in the page; these
charts need neither, and say in text what they draw (a title, and every value as a label).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.reporting.report import Report
from survey.content import Group

COLOURS = {Group.PROFESSIONAL: "#1f5fa8", Group.WORKING_CLASS: "#b0302a"}
INK = "#1b1b1b"
GRID = "#8a8a8a"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    label = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{label}"><title>{label}</title>'
        + "".join(body)
        + "</svg>"
    )


def levels(report: Report) -> str:
    """Working-class and professional shares by level (or overall), beside the national
    benchmark; a hidden share is drawn as an outlined stub labelled "hidden"."""
    level = next((b for b in report.breakdowns if b.dimension == "level"), None)
    rows = list(level.rows) if level and level.rows else [report.overall]
    groups = (Group.WORKING_CLASS, Group.PROFESSIONAL)
    row_h, left, width = 56, 120, 560
    height = 30 + row_h * len(rows) + 30
    plot = width - left - 50
    body = [
        f'<text x="{left}" y="16" font-size="13" fill="{INK}">Share of the three groups; '
        f"dashed: {escape(report.national_benchmark)}</text>"
    ]
    for n, row in enumerate(rows):
        top = 30 + n * row_h
        body.append(
            f'<text x="{left - 8}" y="{top + 24}" font-size="13" text-anchor="end" '
            f'fill="{INK}">{escape(row.unit[:16])}</text>'
        )
        for g, group in enumerate(groups):
            figure = next(f for f in row.groups if f.group is group)
            y = top + 4 + g * 22
            colour = COLOURS[group]
            if figure.share is None:
                body.append(
                    f'<rect x="{left}" y="{y}" width="24" height="18" fill="none" '
                    f'stroke="{colour}" stroke-dasharray="3 2"/>'
                    f'<text x="{left + 30}" y="{y + 14}" font-size="12" fill="{INK}">'
                    f"{escape(figure.label)}: hidden</text>"
                )
                continue
            bar = max(1.0, plot * figure.share)
            body.append(
                f'<rect x="{left}" y="{y}" width="{bar:.1f}" height="18" fill="{colour}"/>'
                f'<text x="{left + bar + 6:.1f}" y="{y + 14}" font-size="12" fill="{INK}">'
                f"{escape(figure.label)} {figure.share:.0%}</text>"
            )
            if figure.national is not None:
                x = left + plot * figure.national
                body.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 2}" y2="{y + 20}" '
                    f'stroke="{INK}" stroke-width="2" stroke-dasharray="4 3"/>'
                )
    return _svg(width, height, "Shares by level against the national benchmark", body)


def trend(
    title: str, points: Sequence[tuple[str, float | None]], *, target: float | None = None
) -> str:
    """A line over published snapshots; a hidden point is a gap, labelled as such."""
    width, height, left, top, bottom = 560, 220, 50, 20, 40
    plot_w, plot_h = width - left - 20, height - top - bottom
    count = max(len(points) - 1, 1)
    body = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        body.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" '
            f'stroke-width="0.5"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="{INK}">{tick:.0%}</text>'
        )
    if target is not None:
        y = top + plot_h * (1 - target)
        body.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="{INK}" '
            f'stroke-dasharray="5 3"/><text x="{width - 22}" y="{y - 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="{INK}">target {target:.0%}</text>'
        )
    previous: tuple[float, float] | None = None
    for n, (label, value) in enumerate(points):
        x = left + plot_w * n / count
        body.append(
            f'<text x="{x:.1f}" y="{height - 18}" font-size="11" text-anchor="middle" '
            f'fill="{INK}">{escape(label)}</text>'
        )
        if value is None:
            body.append(
                f'<text x="{x:.1f}" y="{top + plot_h - 16}" font-size="11" text-anchor="middle" '
                f'fill="{INK}">hidden</text>'
            )
            previous = None
            continue
        y = top + plot_h * (1 - min(max(value, 0.0), 1.0))
        if previous is not None:
            body.append(
                f'<line x1="{previous[0]:.1f}" y1="{previous[1]:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                f'stroke="{COLOURS[Group.WORKING_CLASS]}" stroke-width="2"/>'
            )
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{COLOURS[Group.WORKING_CLASS]}"/>'
            f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="11" text-anchor="middle" '
            f'fill="{INK}">{value:.0%}</text>'
        )
        previous = (x, y)
    return _svg(width, height, title, body)
