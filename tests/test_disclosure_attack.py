"""Published reports attacked as an auditor would: a sound LP over every report in sequence.

Each test publishes snapshots through the real pipeline (figures, disclosure, snapshot content,
report assembly, JSON) and hands only the JSON to tests/reporting_audit.py, which knows nothing
of how keyq chose what to hide.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import disclosure
from bot.disclosure import Sheet, protect
from bot.flow import Survey
from bot.orgconfig import OrgConfig
from bot.reporting import render
from bot.reporting.figures import build, lines_for
from bot.reporting.report import assemble
from bot.reporting.shape import classify
from bot.reporting.snapshots import banded, open_snapshot
from storage.store import CampaignInfo, StoredSnapshot, TallyKey
from survey.content import messages, question
from tests.reporting_audit import leaks, truth_of

LEVELS = ["Frontline", "Team leader", "Manager", "Senior leader"]
CAMPAIGN = CampaignInfo(
    id="workforce",
    title="Workforce",
    is_default=True,
    is_open=True,
    opened_month="2026-01",
    closed_month=None,
)


def survey(dimensions: Mapping[str, Sequence[str]], **reporting: Any) -> Survey:
    followups = {d: {"question": f"{d}?", "options": list(o)} for d, o in dimensions.items()}
    org = OrgConfig.model_validate({"followups": followups, "reporting": reporting})
    return Survey(question=question(), messages=messages(), org=org)


def publish(
    tallies: Sequence[Mapping[TallyKey, int]], s: Survey, answered_extra: int = 0
) -> tuple[list[dict[str, Any]], list[dict[Any, int]]]:
    """Publishes each tally in turn as keyq does; returns the JSON reports and the truths."""
    dimensions = {d: s.org.report_units(d) for d in s.org.followups}
    earlier: list[Sheet[Any]] = []
    reports, truths = [], []
    for n, raw in enumerate(tallies, start=1):
        tally = banded(raw, s)
        values, lines, units = build(tally, s.question, dimensions)
        hidden = protect(values, lines, 10, earlier=earlier)
        assert lines_for(units) == lines  # what a stored snapshot rebuilds its lines from
        total = values["all", "total"]
        content = {
            "values": [[list(k), v] for k, v in values.items()],
            "hidden": [list(k) for k in sorted(hidden)],
            "dimensions": units,
            "reached": total + answered_extra + 5,
            "answered": total + answered_extra,
        }
        stored = StoredSnapshot(
            id=n, published_at=dt.datetime(2026, 1, n, tzinfo=dt.UTC), content=content
        )
        report = assemble(open_snapshot(stored, 10), CAMPAIGN, s)
        reports.append(json.loads(render.json_text(report)))
        truths.append(truth_of(values))
        earlier.append(Sheet(values, lines, frozenset(hidden)))
    return reports, truths


def crowd(*groups: tuple[str, str, int]) -> dict[TallyKey, int]:
    """(option id, level, how many) -> a tally with only the level follow-up."""
    tally: dict[TallyKey, int] = {}
    for option, level, count in groups:
        key = (option, level, "", "")
        tally[key] = tally.get(key, 0) + count
    return tally


def test_shape_is_judged_on_shown_shares_only() -> None:
    # The case: Frontline 20 answers, Team leader 35 (10 other), Senior leader 60
    # (30 professional, 30 working class): the call must follow from shown shares alone.
    s = survey({"level": ["Frontline", "Team leader", "Senior leader"]})
    tally = crowd(
        ("prof", "Frontline", 10),
        ("routine", "Frontline", 10),
        ("prof", "Team leader", 20),
        ("routine", "Team leader", 5),
        ("other", "Team leader", 10),
        ("prof", "Senior leader", 30),
        ("routine", "Senior leader", 30),
    )
    reports, truths = publish([tally], s)
    assert leaks(reports, truths) == []
    report = reports[0]
    shown = []
    for row in report["breakdowns"][0]["rows"]:
        working = next(g for g in row["groups"] if g["group"] == "working_class")
        if working["count"] is not None and row["classified"]:
            shown.append((row["unit"], working["count"] / row["classified"]))
    assert report["shape"]["explanation"] == classify(shown).explain()


def test_hidden_counts_say_why_they_are_hidden() -> None:
    # 172 answers over four levels: counts hidden only to protect others are not "fewer than 10".
    s = survey({"level": LEVELS})
    tally = crowd(
        ("prof", "Frontline", 15),
        ("clerical", "Frontline", 12),
        ("routine", "Frontline", 60),
        ("pnts", "Frontline", 3),
        ("prof", "Team leader", 12),
        ("routine", "Team leader", 22),
        ("clerical", "Team leader", 6),
        ("prof", "Manager", 20),
        ("clerical", "Manager", 8),
        ("routine", "Manager", 4),
        ("prof", "Senior leader", 10),
    )
    reports, truths = publish([tally], s)
    assert leaks(reports, truths) == []
    statuses = {
        (d, u, c): status for (d, u, c), (v, status) in _cells(reports[0]).items() if v is None
    }
    assert "protecting" in statuses.values()
    for cell, status in statuses.items():
        assert (status == "small") == (truths[0].get(cell, 0) < 10), cell
    text = render.text(assemble_from(reports[0]))
    assert "hidden to protect a small group" in text and "fewer than 10" in text


def assemble_from(data: dict[str, Any]) -> Any:
    from bot.reporting.report import Report

    return Report.model_validate(data)


def _cells(report: dict[str, Any]) -> dict[Any, tuple[int | None, str]]:
    from tests.reporting_audit import cells

    return cells(report)


def test_unchanged_unit_hidden_differently_gives_nothing_away() -> None:
    # Manager unchanged between two reports while others grow: the two patterns together must
    # not pin Manager's hidden counts.
    s = survey({"level": ["Frontline", "Manager"]})
    first = crowd(
        ("prof", "Manager", 6),
        ("routine", "Manager", 5),
        ("other", "Manager", 5),
        ("pnts", "Manager", 30),
        ("prof", "Frontline", 40),
        ("routine", "Frontline", 44),
    )
    second = dict(first)
    for key, extra in ((("routine", "Frontline", "", ""), 12), (("pnts", "Frontline", "", ""), 3)):
        second[key] = second.get(key, 0) + extra
    reports, truths = publish([first, second], s)
    assert leaks(reports, truths) == []


def test_answered_never_stands_in_for_a_hidden_total() -> None:
    s = survey({"level": ["Frontline", "Manager"]})
    tally = crowd(("routine", "Frontline", 7), ("prof", "Manager", 2))
    reports, _ = publish([tally], s)
    assert reports[0]["overall"]["answers"] is None
    assert reports[0]["answered"] is None and reports[0]["reached"] is None


def test_unit_wide_answer_with_a_hidden_total_stays_hidden() -> None:
    s = survey({"location": ["North", "South"]})
    tally = {("prof", "", "", "North"): 30, ("routine", "", "", "North"): 25}
    tally[("routine", "", "", "South")] = 8  # everyone in South gave the same answer
    tally[("other", "", "", "North")] = 12
    reports, truths = publish([tally], s)
    assert leaks(reports, truths) == []


GROUP_IDS = ["prof", "mgr", "clerical", "routine", "craft", "other", "pnts"]
population = st.dictionaries(
    st.tuples(
        st.sampled_from(GROUP_IDS),
        st.sampled_from(["A", "B", "C", ""]),
        st.sampled_from(["X", "Y", ""]),
        st.sampled_from(["N", "S"]),
    ),
    st.integers(1, 40),
    min_size=1,
    max_size=16,
)


THREE_WAYS = {"level": ["A", "B", "C"], "function": ["X", "Y"], "location": ["N", "S"]}


def grown(first: dict[TallyKey, int], steps: list[dict[TallyKey, int]]) -> list[dict[Any, int]]:
    """The tally, then the tally after each step's answers are added."""
    tallies = [first]
    for step in steps:
        later = dict(tallies[-1])
        for key, extra in step.items():
            later[key] = later.get(key, 0) + extra
        tallies.append(later)
    return tallies


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=population,
    growth=st.lists(
        st.lists(st.tuples(st.integers(0, 40), st.integers(1, 25)), min_size=1, max_size=4),
        max_size=2,
    ),
)
def test_no_sequence_of_reports_gives_a_small_group_away(
    first: dict[TallyKey, int], growth: list[list[tuple[int, int]]]
) -> None:
    keys = sorted(first)
    steps = []
    for step in growth:
        added: dict[TallyKey, int] = {}
        for index, extra in step:
            key = keys[index % len(keys)]
            added[key] = added.get(key, 0) + extra
        steps.append(added)
    reports, truths = publish(grown(first, steps), survey(THREE_WAYS))
    assert leaks(reports, truths) == []


# Found by the hypothesis above (twenty-third session): 32 people answering "prefer not to say"
# in function Y grew to 37, hidden in both reports; a third report's figures then bounded
# both sides, and the change of 5 between the first two could be worked out. The protector
# checked changes against the newest report only.
PINNED_LATER: dict[TallyKey, int] = {
    ("prof", "B", "X", "S"): 24,
    ("mgr", "A", "Y", "N"): 23,
    ("clerical", "A", "", "N"): 23,
    ("routine", "A", "X", "N"): 1,
    ("pnts", "", "Y", "S"): 32,
}
PINNED_LATER_GROWTH: list[dict[TallyKey, int]] = [
    {("prof", "B", "X", "S"): 6, ("mgr", "A", "Y", "N"): 19, ("pnts", "", "Y", "S"): 5},
    {("mgr", "A", "Y", "N"): 1, ("pnts", "", "Y", "S"): 10},
]


def test_a_later_report_cannot_pin_a_change_between_two_earlier_ones() -> None:
    s = survey(THREE_WAYS)
    reports, truths = publish(grown(PINNED_LATER, PINNED_LATER_GROWTH), s)
    assert leaks(reports[:2], truths[:2]) == []  # two reports alone gave nothing away
    assert leaks(reports, truths) == []


def test_a_change_given_away_before_does_not_blank_every_later_report() -> None:
    """History published before the check covered older pairs may already pin such a change:
    the next report is still protected on its own terms, not hidden whole in a vain attempt to
    take it back."""
    s = survey(THREE_WAYS)
    dimensions = {d: s.org.report_units(d) for d in s.org.followups}
    tallies = grown(PINNED_LATER, [*PINNED_LATER_GROWTH, {("prof", "B", "X", "S"): 12}])
    sheets: list[Sheet[Any]] = []
    for n, raw in enumerate(tallies):
        values, lines, _ = build(banded(raw, s), s.question, dimensions)
        hidden = protect(values, lines, 10, earlier=sheets)
        if n == 2:  # as the old check published it: function Y's classified count shown
            assert ("function", "Y", "classified") in hidden
            hidden -= {("function", "Y", "classified")}
            assert disclosure.Attack([*sheets, Sheet(values, lines, hidden)], 10).exposed()
        if n == 3:  # protected as any report is, and not hidden whole
            assert not disclosure.Attack([*sheets, Sheet(values, lines, hidden)], 10).exposed()
            assert len(hidden) <= 52 < len(values)
        sheets.append(Sheet(values, lines, hidden))


def satisfies(attack: disclosure.Attack[Any], x: Sequence[float]) -> bool:
    """Whether a point meets every constraint of the attack (bounds, lines, no falls)."""
    tol = 1e-6
    for value, (low, high) in zip(x, attack._bounds, strict=True):
        if value < low - tol or (high is not None and value > high + tol):
            return False

    def value(row: Mapping[int, float]) -> float:
        return sum(c * x[v] for v, c in row.items())

    rows, rhs = attack._eq
    if any(abs(value(r) - b) > tol for r, b in zip(rows, rhs, strict=True)):
        return False
    rows, rhs = attack._ub
    return all(value(r) <= b + tol for r, b in zip(rows, rhs, strict=True))


def test_points_one_audit_shares_are_feasible_wherever_they_are_used() -> None:
    """The attacks of one protect() call differ in what the newest report hides; each starts
    from the feasible points the others solved, and only from those feasible for itself (a
    point that is not would make a pinned figure look free)."""
    s = survey(THREE_WAYS)
    dimensions = {d: s.org.report_units(d) for d in s.org.followups}
    sheets: list[Sheet[Any]] = []
    for raw in grown(PINNED_LATER, PINNED_LATER_GROWTH):
        values, lines, _ = build(banded(raw, s), s.question, dimensions)
        sheets.append(Sheet(values, lines, protect(values, lines, 10, earlier=sheets)))
    newest = sheets.pop()
    small = frozenset(k for k, v in newest.values.items() if v < 10)
    # Hidden sets as protect() tries them: the small figures, more, all, then less again.
    extra = sorted(newest.hidden - small, key=repr)
    trials = [small, small | set(extra[:3]), newest.hidden, newest.hidden - {extra[0]}]
    pool: disclosure._Pool[Any] = disclosure._Pool()
    inherited, known = [], []
    for hidden in trials:
        known.append(len(pool.points))
        attack = disclosure.Attack([*sheets, Sheet(newest.values, newest.lines, hidden)], 10, pool)
        inherited.append(len(attack._rows))
        assert all(satisfies(attack, x) for x in attack._rows)
        attack.exposed()
        assert all(satisfies(attack, x) for x in attack._rows)
    assert inherited[:3] == known[:3]  # hiding more, every point carries over
    assert 1 < inherited[3] < known[3]  # hiding less, only some do


# The population hypothesis was shrinking when HiGHS ended a solve without an answer in CI
# (kUnknown) and the report crashed; it did not repeat on another run. Below, HiGHS is made to
# stop before an answer on purpose.
STOPPED_IN_CI: dict[TallyKey, int] = {
    ("prof", "A", "X", "S"): 33,
    ("prof", "B", "", "S"): 2,
    ("prof", "", "Y", "S"): 8,
    ("clerical", "B", "X", "S"): 35,
    ("clerical", "B", "Y", "S"): 13,
    ("clerical", "C", "X", "S"): 14,
    ("clerical", "", "Y", "S"): 15,
    ("routine", "B", "X", "S"): 22,
    ("routine", "B", "Y", "N"): 18,
    ("routine", "B", "", "N"): 10,
    ("routine", "C", "X", "S"): 13,
    ("craft", "B", "Y", "N"): 32,
    ("other", "A", "X", "N"): 37,
    ("other", "A", "X", "S"): 21,
    ("other", "A", "Y", "N"): 24,
    ("pnts", "A", "", "S"): 5,
}


def stopping_highs(monkeypatch: pytest.MonkeyPatch, first: int | None = None) -> list[int]:
    """Makes HiGHS stop before any answer (no presolve, no iterations): every instance, or
    the ``first`` made only. Returns a list holding how many were made."""
    made = [0]
    real = disclosure._new_highs

    def new_highs() -> Any:
        made[0] += 1
        highs = real()
        if first is None or made[0] <= first:
            highs.setOptionValue("presolve", "off")
            highs.setOptionValue("simplex_iteration_limit", 0)
            highs.setOptionValue("ipm_iteration_limit", 0)
        return highs

    monkeypatch.setattr(disclosure, "_new_highs", new_highs)
    return made


def stopped_in_ci() -> tuple[Survey, list[dict[TallyKey, int]]]:
    s = survey({"level": ["A", "B", "C"], "function": ["X", "Y"], "location": ["N", "S"]})
    later = dict(STOPPED_IN_CI)
    later[("prof", "B", "", "S")] += 1
    return s, [STOPPED_IN_CI, later]


def hidden_figures(tally: Mapping[TallyKey, int], s: Survey) -> frozenset[Any]:
    dimensions = {d: s.org.report_units(d) for d in s.org.followups}
    values, lines, _ = build(banded(tally, s), s.question, dimensions)
    return protect(values, lines, 10)


def test_a_solver_without_an_answer_hides_more_and_never_crashes_a_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s, tallies = stopped_in_ci()
    normal = hidden_figures(tallies[0], s)
    made = stopping_highs(monkeypatch)
    stopped = hidden_figures(tallies[0], s)
    assert made[0] > 0  # the audit did ask the solver
    assert normal < stopped  # what could not be proven safe is hidden too
    reports, truths = publish(tallies, s)  # the whole pipeline, twice, without a crash
    assert leaks(reports, truths) == []


def test_a_solve_without_an_answer_is_tried_again_on_a_new_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s, tallies = stopped_in_ci()
    normal = hidden_figures(tallies[0], s)
    made = stopping_highs(monkeypatch, first=1)
    assert hidden_figures(tallies[0], s) == normal
    assert made[0] >= 2  # the first model stopped twice; the audit built another
