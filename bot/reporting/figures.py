"""The figures of a report as one system of additive lines, built from a campaign's tally.

A figure's key is a tuple: ``("all", column)`` for the whole campaign, ``(dimension, unit,
column)`` for a unit of a breakdown, where column is a group, ``classified`` (the three groups
together) or ``total``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.disclosure import Line
from storage.store import TallyKey
from survey.content import CLASSIFIED, Group, Question

NOT_STATED = "Not stated"
CLASSIFIED_COLUMN = "classified"
TOTAL_COLUMN = "total"
GROUP_COLUMNS = tuple(g.value for g in Group)
COLUMNS = (*GROUP_COLUMNS, CLASSIFIED_COLUMN, TOTAL_COLUMN)
DIMENSION_INDEX = {"level": 1, "function": 2, "location": 3}

Figure = tuple[str, ...]


def units_of(dimension: str, options: Sequence[str], tally: Mapping[TallyKey, int]) -> list[str]:
    """A breakdown's units that have answers: configured ones in order, others, not stated.

    A unit nobody chose is left out of the figures: it is an empty unit (shown as having no
    answers), not a small group, and hiding it would needlessly hide its neighbours.
    """
    seen = {key[DIMENSION_INDEX[dimension]] for key, count in tally.items() if count > 0}
    known = [o for o in options if o in seen]
    extra = sorted(v for v in seen if v and v not in options)
    return [*known, *extra, *([NOT_STATED] if "" in seen else [])]


def build(
    tally: Mapping[TallyKey, int], question: Question, dimensions: Mapping[str, Sequence[str]]
) -> tuple[dict[Figure, int], list[Line[Figure]], dict[str, list[str]]]:
    """Every figure's true value, the lines that tie them, and each breakdown's units in order
    (those with answers), for the given breakdowns."""
    group_of = {o.id: o.group.value for o in question.options}
    rows: list[Figure] = [("all",)]
    units = {d: units_of(d, options, tally) for d, options in dimensions.items()}
    rows += [(d, u) for d, names in units.items() for u in names]
    values: dict[Figure, int] = {(*row, column): 0 for row in rows for column in COLUMNS}
    for key, count in tally.items():
        group = group_of.get(key[0])
        if group is None:
            continue
        targets: list[Figure] = [("all",)]
        targets += [(d, key[DIMENSION_INDEX[d]] or NOT_STATED) for d in dimensions]
        for row in targets:
            values[(*row, group)] += count
            values[(*row, TOTAL_COLUMN)] += count
            if Group(group) in CLASSIFIED:
                values[(*row, CLASSIFIED_COLUMN)] += count
    return values, lines_for(units), units


def lines_for(units: Mapping[str, Sequence[str]]) -> list[Line[Figure]]:
    """The additive lines among the figures of a report with these breakdown units."""
    rows: list[Figure] = [("all",), *((d, u) for d, names in units.items() for u in names)]
    lines: list[Line[Figure]] = []
    classified = tuple(g.value for g in CLASSIFIED)
    for row in rows:
        lines.append(Line((*row, TOTAL_COLUMN), tuple((*row, g) for g in GROUP_COLUMNS)))
        lines.append(Line((*row, CLASSIFIED_COLUMN), tuple((*row, g) for g in classified)))
        lines.append(
            Line(
                (*row, TOTAL_COLUMN),
                ((*row, CLASSIFIED_COLUMN), (*row, "other"), (*row, "prefer_not_to_say")),
                whole_ok=True,
            )
        )
    for dimension, names in units.items():
        for column in COLUMNS:
            parts = tuple((dimension, u, column) for u in names)
            lines.append(Line(("all", column), parts, whole_ok=True))
    return lines
