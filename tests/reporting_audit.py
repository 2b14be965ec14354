"""A sound attacker, written apart from bot/disclosure.py, that reads only published reports.

It takes every published report (the JSON an admin downloads) in order and solves, for each
hidden count, the smallest and largest value consistent with everything printed: every shown
count, the additive lines a reader knows (a row's groups add up to its answers, units add up to
the whole), counts >= 0, each hidden count's label ("fewer than 10" or "hidden to protect a
small group"), and that no count falls from one report to the next. It then says what leaked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linprog

GROUPS = ("professional", "intermediate", "working_class", "other", "prefer_not_to_say")
CLASSIFIED = GROUPS[:3]
Cell = tuple[str, str, str]  # (breakdown or "all", unit, group | "answers" | "classified")


def cells(report: Mapping[str, Any]) -> dict[Cell, tuple[int | None, str]]:
    """Every count a report prints, with its status."""
    out: dict[Cell, tuple[int | None, str]] = {}
    rows = [("all", report["overall"])]
    rows += [(b["dimension"], r) for b in report["breakdowns"] for r in b["rows"]]
    for dimension, row in rows:
        unit = "All" if dimension == "all" else row["unit"]
        out[dimension, unit, "answers"] = (row["answers"], row["answers_status"])
        out[dimension, unit, "classified"] = (row["classified"], row["classified_status"])
        for group in row["groups"]:
            out[dimension, unit, group["group"]] = (group["count"], group["status"])
    return out


def lines(report: Mapping[str, Any]) -> list[tuple[Cell, list[Cell]]]:
    """(total, parts) for every sum a reader knows holds."""
    found: list[tuple[Cell, list[Cell]]] = []
    rows = [("all", "All")] + [
        (b["dimension"], r["unit"]) for b in report["breakdowns"] for r in b["rows"]
    ]
    for d, u in rows:
        found.append(((d, u, "answers"), [(d, u, g) for g in GROUPS]))
        found.append(((d, u, "classified"), [(d, u, g) for g in CLASSIFIED]))
    for b in report["breakdowns"]:
        for column in (*GROUPS, "answers", "classified"):
            units = [(b["dimension"], r["unit"], column) for r in b["rows"]]
            found.append((("all", "All", column), units))
    return found


class Attacker:
    def __init__(self, reports: Sequence[Mapping[str, Any]]) -> None:
        self.reports = list(reports)
        self.cells = [cells(r) for r in reports]
        self.var: dict[tuple[int, Cell], int] = {}
        bounds: list[tuple[float, float | None]] = []
        for i, (report, printed) in enumerate(zip(reports, self.cells, strict=True)):
            t = report["threshold"]
            for cell, (value, status) in printed.items():
                if value is None:
                    assert status in ("small", "protecting"), (cell, status)
                    self.var[i, cell] = len(bounds)
                    bounds.append((0, t - 1) if status == "small" else (t, None))
                else:
                    assert status == "shown", (cell, status)
        self.bounds = bounds
        eq, eq_b, ub, ub_b = [], [], [], []
        for i, report in enumerate(reports):
            for total, parts in lines(report):
                row, const = self._expr(i, [(total, 1.0)] + [(p, -1.0) for p in parts])
                eq.append(row)
                eq_b.append(-const)
            answered = report.get("answered")
            if answered is not None:  # answered people include every answer in the totals
                row, const = self._expr(i, [(("all", "All", "answers"), 1.0)])
                ub.append(row)
                ub_b.append(answered - const)
        for i in range(1, len(reports)):
            for cell in self.cells[i].keys() & self.cells[i - 1].keys():
                row, const = self._expr(i - 1, [(cell, 1.0)])
                now, now_const = self._expr(i, [(cell, -1.0)])
                ub.append(row + now)
                ub_b.append(-(const + now_const))
        self.eq = (np.array(eq) if eq else None, eq_b or None)
        self.ub = (np.array(ub) if ub else None, ub_b or None)

    def _expr(self, i: int, terms: list[tuple[Cell, float]]) -> tuple[np.ndarray, float]:
        row = np.zeros(len(self.bounds) if hasattr(self, "bounds") else 0)
        const = 0.0
        for cell, coef in terms:
            var = self.var.get((i, cell))
            if var is None:
                value = self.cells[i].get(cell, (0, "shown"))[0]
                const += coef * (value or 0)
            else:
                row[var] += coef
        return row, const

    def range(self, expression: np.ndarray) -> tuple[int, float]:
        """Whole-number bounds of a linear expression of the hidden counts."""
        if not expression.any():
            return 0, 0
        ends = []
        for sign in (1, -1):
            result = linprog(
                sign * expression,
                A_eq=self.eq[0],
                b_eq=self.eq[1],
                A_ub=self.ub[0],
                b_ub=self.ub[1],
                bounds=self.bounds,
                method="highs",
            )
            if result.status == 3:
                ends.append(math.inf)
                continue
            assert result.status == 0, result.message
            ends.append(sign * result.fun)
        high = math.floor(ends[1] + 1e-6) if math.isfinite(ends[1]) else math.inf
        return math.ceil(ends[0] - 1e-6), high

    def cell(self, i: int, cell: Cell) -> tuple[int, float]:
        row, const = self._expr(i, [(cell, 1.0)])
        low, high = self.range(row)
        return int(low + const), high + const


def leaks(reports: Sequence[Mapping[str, Any]], truths: Sequence[Mapping[Cell, int]]) -> list[str]:
    """Everything the attacker recovers that it must not, given the true counts."""
    attacker = Attacker(reports)
    found: list[str] = []
    for i, (report, truth) in enumerate(zip(reports, truths, strict=True)):
        t = report["threshold"]
        printed = attacker.cells[i]
        for cell, (value, status) in printed.items():
            true = truth.get(cell, 0)
            if value is not None:
                if value != true or value < t:
                    found.append(f"report {i}: {cell} printed as {value}, true {true}")
                continue
            if (status == "small") != (true < t):
                found.append(f"report {i}: {cell} labelled {status}, true {true}")
            low, high = attacker.cell(i, cell)
            before = [attacker.cells[j].get(cell, (None, ""))[0] for j in range(i)]
            if low == high and true != 0 and true not in before:  # not just "unchanged"
                found.append(f"report {i}: hidden {cell} recovered as {low}")
        rows = [("all", "All")] + [
            (b["dimension"], r["unit"]) for b in report["breakdowns"] for r in b["rows"]
        ]
        for d, u in rows:  # "everyone in this unit gave the same answer"
            total = truth.get((d, u, "answers"), 0)
            for group in GROUPS:
                if total == 0 or truth.get((d, u, group), 0) != total:
                    continue
                others = [((d, u, g), 1.0) for g in GROUPS if g != group]
                row, const = attacker._expr(i, others)
                if const == 0 and attacker.range(row)[1] == 0:
                    found.append(f"report {i}: everyone in {d} {u} known to be {group}")
        for j in range(i):  # the change since any earlier report
            for cell in printed.keys() & attacker.cells[j].keys():
                change = truth.get(cell, 0) - truths[j].get(cell, 0)
                if not 0 < change < t:
                    continue
                now, _ = attacker._expr(i, [(cell, 1.0)])
                before, _ = attacker._expr(j, [(cell, -1.0)])
                low, high = attacker.range(now + before)
                if low == high:
                    found.append(f"reports {j}->{i}: change of {cell} recovered as {change}")
    return found


def truth_of(values: Mapping[tuple[str, ...], int]) -> dict[Cell, int]:
    """The true counts of a snapshot's figures, keyed as the attacker keys cells."""
    out: dict[Cell, int] = {}
    for key, value in values.items():
        if key[0] == "all":
            unit, column = "All", key[1]
        else:
            unit, column = key[1], key[2]
        out[key[0], unit, "answers" if column == "total" else column] = value
    return out
