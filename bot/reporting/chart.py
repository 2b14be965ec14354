"""A PNG chart of a report: shares by level (or overall) against the benchmark."""

from __future__ import annotations

import io
from typing import Any

from bot.reporting.report import Report
from survey.content import CLASSIFIED, Group, benchmarks


def png(report: Report) -> bytes:
    """Working-class and professional shares by level, with the benchmark as dashed lines."""
    import matplotlib
    import matplotlib.patches

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    level = next((b for b in report.breakdowns if b.dimension == "level"), None)
    rows = list(level.rows) if level else []
    scope = "by level"
    if not rows or all(r.classified is None for r in rows):
        rows, scope = [report.overall], "overall"
    groups = [g for g in CLASSIFIED if g is not Group.INTERMEDIATE]
    colours = {Group.PROFESSIONAL: "#1f5fa8", Group.WORKING_CLASS: "#c0392b"}
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    width = 0.38
    handles: list[Any] = []
    for offset, group in enumerate(groups):
        colour = colours[group]
        shares = [next(f.share for f in r.groups if f.group is group) for r in rows]
        xs = [i + (offset - 0.5) * width for i in range(len(rows))]
        label = report.overall.groups[list(Group).index(group)].label
        for x, share in zip(xs, shares, strict=True):
            if share is None:  # a hidden share: an outlined, hatched stub, never left out
                axes.bar(x, 0.04, width, facecolor="none", edgecolor=colour, hatch="//")
                axes.annotate("hidden", (x, 0.04), ha="center", va="bottom", fontsize=8)
            else:
                axes.bar(x, share, width, color=colour)
                axes.annotate(f"{share:.0%}", (x, share), ha="center", va="bottom", fontsize=8)
        handles.append(matplotlib.patches.Patch(color=colour, label=label))
        benchmark = benchmarks().national.share(group)
        handles.append(
            axes.axhline(
                benchmark,
                linestyle="--",
                linewidth=1,
                color=colour,
                label=f"{label}, {report.national_benchmark}",
            )
        )
    axes.set_xticks(range(len(rows)), [r.unit for r in rows])
    axes.set_ylim(0, 1)
    axes.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes.set_title(f"{report.campaign_title}: shares {scope} (report {report.snapshot})")
    figure.text(
        0.01,
        0.01,
        "hidden: under 10, or hidden so that a smaller group cannot be worked out",
        fontsize=7,
    )
    axes.legend(handles=handles, fontsize=8, loc="upper right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
