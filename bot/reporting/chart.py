"""A PNG chart of a report: shares by level (or overall) against the benchmark."""

from __future__ import annotations

import io

from bot.reporting.report import Report
from survey.content import CLASSIFIED, Group, benchmarks


def png(report: Report) -> bytes:
    """Working-class and professional shares by level, with the benchmark as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    level = next((b for b in report.breakdowns if b.dimension == "level"), None)
    rows = list(level.rows) if level else []
    scope = "by level"
    if not rows or all(r.classified is None for r in rows):
        rows, scope = [report.overall], "overall"
    groups = [g for g in CLASSIFIED if g is not Group.INTERMEDIATE]
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    width = 0.38
    for offset, group in enumerate(groups):
        shares = [next(f.share for f in r.groups if f.group is group) for r in rows]
        xs = [i + (offset - 0.5) * width for i in range(len(rows))]
        label = report.overall.groups[list(Group).index(group)].label
        bars = axes.bar(xs, [s or 0 for s in shares], width, label=label)
        for bar, share in zip(bars, shares, strict=True):
            if share is None:  # a hidden share: an outlined placeholder, never left out
                bar.set_height(0.04)
                bar.set_hatch("//")
                bar.set_fill(False)
            axes.annotate(
                "hidden" if share is None else f"{share:.0%}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        benchmark = benchmarks().national.share(group)
        axes.axhline(
            benchmark,
            linestyle="--",
            linewidth=1,
            color=bars.patches[0].get_facecolor(),
            label=f"{label}, {report.national_benchmark}",
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
    axes.legend(fontsize=8, loc="upper right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
