"""The admin's summary of a campaign: counts in the three groups, always through disclosure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.disclosure import describe, protect_row
from storage.store import CampaignInfo, Store
from survey.content import CLASSIFIED, Group, Question


@dataclass(frozen=True, kw_only=True)
class GroupFigure:
    """One group's protected count and (when safe) its share of the three classified groups."""

    group: Group
    label: str
    count: int | None
    share: float | None


@dataclass(frozen=True, kw_only=True)
class Summary:
    """A campaign's protected figures."""

    campaign: CampaignInfo
    threshold: int
    answered: int
    in_totals: int | None
    groups: tuple[GroupFigure, ...]


async def summarise(
    store: Store, campaign: CampaignInfo, question: Question, threshold: int
) -> Summary:
    """Counts the campaign's stored answers by group and protects them."""
    by_option = {option.id: option.group for option in question.options}
    counts = Counter(
        by_option[a["kq"]] for a in await store.answers(campaign.id) if a.get("kq") in by_option
    )
    row = protect_row({g.value: counts.get(g, 0) for g in Group}, threshold)
    classified = [row[g.value] for g in CLASSIFIED]
    shares_safe = (
        all(c is not None for c in classified)
        and sum(c for c in classified if c is not None) >= threshold
    )
    total_classified = sum(counts.get(g, 0) for g in CLASSIFIED)
    figures = tuple(
        GroupFigure(
            group=g,
            label=question.groups[g],
            count=row[g.value],
            share=(
                counts.get(g, 0) / total_classified if shares_safe and g in CLASSIFIED else None
            ),
        )
        for g in Group
    )
    answered, _pending = await store.counts(campaign.id)
    in_totals = sum(counts.values())
    return Summary(
        campaign=campaign,
        threshold=threshold,
        answered=answered,
        in_totals=in_totals if in_totals >= threshold else None,
        groups=figures,
    )


def render(summary: Summary) -> str:
    """The summary as plain text for chat or a terminal."""
    t = summary.threshold
    answered = summary.answered if summary.answered >= t else None
    lines = [
        f"Campaign: {summary.campaign.title} ({summary.campaign.id})",
        f"People who have answered: {describe(answered, t)}",
        f"Answers in these totals: {describe(summary.in_totals, t)} "
        f"(answers are added in shuffled batches of at least {t})",
        "",
    ]
    for figure in summary.groups:
        share = f" ({figure.share:.0%})" if figure.share is not None else ""
        if figure.group is Group.OTHER:
            lines.append("")
        lines.append(f"{figure.label}: {describe(figure.count, t)}{share}")
    lines += ["", "Shares are of the three groups; other and prefer-not-to-say answers are apart."]
    return "\n".join(lines)
