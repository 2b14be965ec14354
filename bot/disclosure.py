"""Disclosure control: which figures may be shown without revealing a group under the threshold.

Every figure keyq shows passes through here. Figures are cells of a system of additive lines
(a total and the parts that add up to it: a unit's groups, a group's units, a breakdown's units).
A hidden figure is labelled for what it is: **small** (under the threshold, read "fewer than
10") or **protecting** (10 or more, hidden only so that a small one cannot be worked out). The
labels are themselves something a reader learns, so the audit counts them as constraints.

The rules, applied until nothing changes:

- primary: a figure under the threshold is hidden, and so is a figure whose change since an
  earlier published snapshot is under the threshold (comparing the two would show it);
- complementary: in a line whose total is shown, either nothing is hidden or at least two parts
  are, together at least the threshold; a hidden total may not be rebuilt from shown parts;
- audit: a sound attacker solves linear programmes over every published snapshot together
  (every line, every figure >= 0, the labels, and counts that never fall from one snapshot to
  the next). No hidden non-zero figure may be pinned to one value (unless to the very value an
  earlier snapshot showed: that only says it did not change), no change under the threshold
  between any two snapshots may be pinned (a new snapshot can pin one between two older
  ones), and no row of answer groups may be shown to hold one answer only. Where one is, a
  shown figure sharing its line is hidden too.

A final pass shows again any figure the rules did not need hidden.
"""

from __future__ import annotations

import logging
import math
import os
import random
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

MINIMUM_THRESHOLD = 10
Key = TypeVar("Key", bound=Hashable)
_EPS = 1e-6
_SAMPLES = 6
"""Optima under varied objectives an attack solves first when it knows few feasible points."""
logger = logging.getLogger(__name__)


class Status(StrEnum):
    """How a figure appears in a report."""

    SHOWN = "shown"
    SMALL = "small"
    """Hidden because it is under the threshold: reads "fewer than 10"."""
    PROTECTING = "protecting"
    """Hidden although it is at least the threshold, so that a small figure stays hidden."""


def status_of(value: int, hidden: bool, threshold: int) -> Status:
    if not hidden:
        return Status.SHOWN
    return Status.SMALL if value < threshold else Status.PROTECTING


@dataclass(frozen=True)
class Line(Generic[Key]):
    """``total`` equals the sum of ``parts`` (figures named by any hashable key).

    ``whole_ok`` marks a line where one part holding the whole total reveals no one's answer
    (parts that are units of people, or a subtotal); in a row of answer groups it would.
    """

    total: Key
    parts: tuple[Key, ...]
    whole_ok: bool = False


@dataclass(frozen=True)
class Sheet(Generic[Key]):
    """One published snapshot as its protector knows it: true values, lines, hidden figures."""

    values: Mapping[Key, int]
    lines: Sequence[Line[Key]]
    hidden: frozenset[Key] = field(default_factory=frozenset)


def check_threshold(threshold: int) -> int:
    """The threshold may be raised above 10, never lowered."""
    if threshold < MINIMUM_THRESHOLD:
        raise ValueError(f"the disclosure threshold cannot be below {MINIMUM_THRESHOLD}")
    return threshold


def protect(
    values: Mapping[Key, int],
    lines: Sequence[Line[Key]],
    threshold: int,
    *,
    earlier: Sequence[Sheet[Key]] = (),
) -> frozenset[Key]:
    """The figures to hide so that none, alone or combined, reveals what it must not.

    Args:
        values: every figure's true value (totals included).
        lines: the additive relations a reader can use.
        threshold: the smallest group that may be revealed (10 or more).
        earlier: every earlier published snapshot of the same figures, oldest first.
    """
    check_threshold(threshold)
    hidden: set[Key] = {key for key, value in values.items() if value < threshold}
    for before in earlier:
        for key, value in values.items():
            if key not in before.hidden and key in before.values:
                change = value - before.values[key]
                if 0 < change < threshold:
                    hidden.add(key)
    primary = frozenset(hidden)
    pool: _Pool[Key] = _Pool()
    _settle(values, lines, hidden, threshold, earlier, pool)
    # Greedy hiding overshoots: show again any extra figure the rules do not need hidden.
    for key in sorted(hidden - primary, key=lambda k: (-abs(values[k]), repr(k))):
        trial = hidden - {key}
        if not _settle(values, lines, set(trial), threshold, earlier, pool, dry_run=True):
            hidden = trial
    return frozenset(hidden)


def _settle(
    values: Mapping[Key, int],
    lines: Sequence[Line[Key]],
    hidden: set[Key],
    threshold: int,
    earlier: Sequence[Sheet[Key]],
    pool: _Pool[Key],
    *,
    dry_run: bool = False,
) -> bool:
    """Hides more until every rule holds; True if anything had to be hidden.

    With ``dry_run`` it stops at the first thing that would have to be hidden. ``pool`` is
    what the attacks of one ``protect`` call share (they differ only in what is hidden).
    """
    any_change = False
    while True:
        changed = False
        for line in lines:
            changed |= _complement(values, line, hidden, threshold)
            if changed and dry_run:
                return True
        if not changed:
            sheets = [*earlier, Sheet(values, lines, frozenset(hidden))]
            exposed = Attack(sheets, threshold, pool).exposed(first=dry_run)
            if exposed and dry_run:
                return True
            for key in sorted(exposed, key=repr):
                changed |= _hide_partner(values, lines, key, hidden)
            if exposed and not changed:
                # What gives it away lies in an earlier snapshot together with this one, beyond
                # the exposed figure's own lines: hide this snapshot's smallest shown figure and
                # look again (the final pass shows again whatever did not need hiding).
                shown = [k for k in values if k not in hidden]
                if shown:
                    hidden.add(min(shown, key=lambda k: (abs(values[k]), repr(k))))
                    changed = True
        if not changed:
            return any_change
        any_change = True


def _complement(
    table: Mapping[Key, int], line: Line[Key], hidden: set[Key], threshold: int
) -> bool:
    """Applies the complementary rule to one line; True if it hid something more."""
    parts_hidden = [p for p in line.parts if p in hidden]
    visible = [p for p in line.parts if p not in hidden]
    if not visible:
        return False
    if line.total in hidden:
        if parts_hidden:
            return False
    elif _line_safe(table, line, parts_hidden, visible, threshold):
        return False
    hidden.add(min(visible, key=lambda p: (abs(table[p]), repr(p))))
    return True


def _line_safe(
    table: Mapping[Key, int],
    line: Line[Key],
    parts_hidden: list[Key],
    visible: list[Key],
    threshold: int,
) -> bool:
    """Whether a line with a shown total gives nothing away through its hidden parts."""
    if not parts_hidden:
        return True
    hidden_sum = sum(abs(table[p]) for p in parts_hidden)
    if hidden_sum == 0:
        # The hidden parts are empty: harmless unless it shows that one part holds everyone,
        # which for a row of answer groups means everyone in it gave the same answer.
        return line.whole_ok or sum(1 for p in visible if table[p]) >= 2
    return len(parts_hidden) >= 2 and hidden_sum >= threshold


def _hide_partner(
    table: Mapping[Key, int], lines: Sequence[Line[Key]], key: Key, hidden: set[Key]
) -> bool:
    """Hides ``key`` itself if shown, else the smallest shown figure sharing a line with it."""
    if key in table and key not in hidden:
        hidden.add(key)
        return True
    candidates = {
        k
        for line in lines
        if key == line.total or key in line.parts
        for k in (line.total, *line.parts)
        if k not in hidden
    }
    if not candidates:
        return False
    hidden.add(min(candidates, key=lambda k: (abs(table[k]), repr(k))))
    return True


class _Pool(Generic[Key]):
    """What the attacks of one ``protect`` call share.

    They differ only in which of the newest snapshot's figures are hidden, so a feasible point
    of one is feasible in another wherever it differs from the truth in newest figures hidden
    there (the rest take their true values, which every constraint admits). A point is kept as
    its values for the earlier snapshots' unknowns (None: the truth) and the newest figures in
    which it differs from the truth.
    """

    def __init__(self) -> None:
        self.points: list[tuple[Any, dict[Key, float]]] = [(None, {})]
        self.before: Attack[Key] | None = None
        self.pinned_before: dict[tuple[int, int, Key], bool] = {}


class Attack(Generic[Key]):
    """What a sound reader can prove from every published snapshot together.

    Unknowns are the hidden figures of every snapshot; constraints are the lines, figures >= 0,
    each hidden figure's label (small: at most threshold - 1; protecting: at least threshold),
    and that a figure never falls from one snapshot to the next. Bounds come from linear
    programmes (HiGHS), rounded inwards to whole numbers. Most checks need none: an expression
    that differs across two known feasible points (the truth, and every optimum solved so far
    in this ``protect`` call) is not pinned.
    """

    def __init__(
        self, sheets: Sequence[Sheet[Key]], threshold: int, pool: _Pool[Key] | None = None
    ) -> None:
        self._sheets = list(sheets)
        self._threshold = threshold
        self._pool: _Pool[Key] = pool or _Pool()
        self._newest = len(self._sheets) - 1
        self._index: dict[tuple[int, Key], int] = {}
        self._truth: list[int] = []
        lower: list[float] = []
        upper: list[float | None] = []
        for s, sheet in enumerate(sheets):
            for key in sorted(sheet.hidden, key=repr):
                if key not in sheet.values:
                    continue
                value = sheet.values[key]
                self._index[s, key] = len(self._truth)
                self._truth.append(value)
                small = value < threshold
                lower.append(0.0 if small else float(threshold))
                upper.append(float(threshold - 1) if small else None)
        # The newest snapshot's unknowns come last: (figure, unknown) for each.
        self._newest_vars = [(k, v) for (s, k), v in self._index.items() if s == self._newest]
        self._earlier = len(self._index) - len(self._newest_vars)
        self._bounds = list(zip(lower, upper, strict=True))
        eq_rows: list[dict[int, float]] = []
        eq_rhs: list[float] = []
        for s, sheet in enumerate(sheets):
            for line in sheet.lines:
                row, constant = self._terms(
                    [(s, line.total, 1.0)] + [(s, p, -1.0) for p in line.parts]
                )
                if row:
                    eq_rows.append(row)
                    eq_rhs.append(-constant)
        ub_rows: list[dict[int, float]] = []
        ub_rhs: list[float] = []
        for s in range(1, len(sheets)):
            before, now = sheets[s - 1].values, sheets[s].values
            for key in before.keys() & now.keys():
                if before[key] > now[key]:
                    continue  # not a rule this figure keeps: a reader could not rely on it
                row, constant = self._terms([(s - 1, key, 1.0), (s, key, -1.0)])
                if row:
                    ub_rows.append(row)
                    ub_rhs.append(-constant)
        self._eq = (eq_rows, eq_rhs)
        self._ub = (ub_rows, ub_rhs)
        self._highs: Any = None
        self._sampled = False
        # The known feasible points, one row each over this attack's unknowns.
        self._rows: list[Any] = [
            self._vector(earlier, newest)
            for earlier, newest in self._pool.points
            if all((self._newest, k) in self._index for k in newest)
        ]
        self._matrix: Any = None

    def _vector(self, earlier: Any, newest: Mapping[Key, float]) -> Any:
        import numpy as np

        x = np.array(self._truth, dtype=float)
        if earlier is not None:
            x[: self._earlier] = earlier
        for key, value in newest.items():
            x[self._index[self._newest, key]] = value
        return x

    def _keep(self, x: Sequence[float]) -> None:
        """Adds a feasible point (an optimum) to this attack's and to the shared pool."""
        import numpy as np

        row = np.asarray(x, dtype=float)
        self._rows.append(row)
        self._matrix = None
        newest = {
            key: float(row[var])
            for key, var in self._newest_vars
            if abs(row[var] - self._truth[var]) > _EPS
        }
        self._pool.points.append((row[: self._earlier].copy(), newest))

    def _points(self) -> Any:
        """The known feasible points, a row each, with a last column of zeros."""
        import numpy as np

        if self._matrix is None:
            n = len(self._truth)
            self._matrix = np.zeros((len(self._rows), n + 1))
            if self._rows:
                self._matrix[:, :n] = np.vstack(self._rows)
        return self._matrix

    def _spread(self, expression: Mapping[int, float]) -> tuple[float, float]:
        """The least and greatest value of the expression over the known feasible points."""
        import numpy as np

        points = self._points()
        values = points[:, list(expression)] @ np.array(list(expression.values()))
        return float(values.min()), float(values.max())

    def _undecided(self, expressions: Sequence[Mapping[int, float]]) -> list[int]:
        """Which expressions (of one or two unknowns) take the same whole value, or none,
        across the known feasible points: only those need a solve."""
        import numpy as np

        if not expressions:
            return []
        zero = len(self._truth)
        first = np.array([next(iter(e)) for e in expressions])
        second = np.array([list(e)[1] if len(e) > 1 else zero for e in expressions])
        a = np.array([next(iter(e.values())) for e in expressions])
        b = np.array([list(e.values())[1] if len(e) > 1 else 0.0 for e in expressions])
        points = self._points()
        values = points[:, first] * a + points[:, second] * b
        low, high = values.min(axis=0), values.max(axis=0)
        apart = np.floor(high + _EPS) > np.ceil(low - _EPS)
        return [i for i, e in enumerate(expressions) if len(e) > 2 or not apart[i]]

    def _terms(self, terms: Iterable[tuple[int, Key, float]]) -> tuple[dict[int, float], float]:
        """A linear expression of figures of any snapshots, as (snapshot, figure, coefficient):
        the coefficients of unknowns, and the constant the shown figures add up to."""
        row: dict[int, float] = {}
        constant = 0.0
        for s, key, coef in terms:
            var = self._index.get((s, key))
            if var is None:
                constant += coef * self._sheets[s].values.get(key, 0)
            else:
                row[var] = row.get(var, 0.0) + coef
        return row, constant

    def _solve(self, objective: dict[int, float]) -> list[float] | None:
        """The unknowns at an optimum that minimises ``objective``; None if unbounded.

        The model is kept between objectives and each solve starts from the last one's basis.
        HiGHS once ended a solve without an answer (``kUnknown``, in CI), so a solve that gives
        neither an optimum nor a proof of unboundedness is tried again from scratch, then on a
        model built anew; if that fails too, ``_Unsolved`` is raised and the audit treats the
        figure as given away (hidden), never as safe.
        """
        import highspy
        import numpy as np

        n = len(self._truth)
        cost = np.zeros(n)
        for var, coef in objective.items():
            cost[var] = coef
        columns = np.arange(n, dtype=np.int32)
        status = None
        for attempt in range(3):
            if self._highs is None:
                self._highs = _model(n, self._bounds, self._eq, self._ub)
            highs = self._highs
            if attempt == 1:
                highs.clearSolver()  # no warm start from the last basis
            highs.changeColsCost(n, columns, cost)
            highs.run()
            status = highs.getModelStatus()
            if status == highspy.HighsModelStatus.kOptimal:
                return list(highs.getSolution().col_value)
            if status in (
                highspy.HighsModelStatus.kUnbounded,
                highspy.HighsModelStatus.kUnboundedOrInfeasible,
            ):
                return None
            if attempt == 1:
                self._highs = None  # the third try builds the model again
        raise _Unsolved(getattr(status, "name", str(status)))

    def _sample(self) -> None:
        """Optima under varied objectives, once, when the known points are few."""
        self._sampled = True
        if len(self._rows) > _SAMPLES:
            return
        # Not for secrecy: varied objectives, the same for the same figures (repeatable).
        rng = random.Random(len(self._truth))  # noqa: S311
        n = len(self._truth)
        objectives = [{i: 1.0 for i in range(n)}, {i: -1.0 for i in range(n)}]
        objectives += [{i: rng.uniform(-1, 1) for i in range(n)} for _ in range(_SAMPLES - 2)]
        for objective in objectives if n else []:
            try:
                x = self._solve(objective)
            except _Unsolved:
                continue  # samples only ever show that a figure is not pinned
            if x is not None:
                self._keep(x)

    def _range(self, expression: dict[int, float]) -> tuple[float, float]:
        low = self._solve(expression)
        high = self._solve({v: -c for v, c in expression.items()})
        # Each optimum is one more feasible point: later figures that differ across the known
        # points are not pinned, without solves of their own.
        for x in (low, high):
            if x is not None:
                self._keep(x)
        return (
            -math.inf if low is None else _value(expression, low),
            math.inf if high is None else _value(expression, high),
        )

    def _published(self, s: int, key: Key, value: int) -> bool:
        """Whether an earlier snapshot showed this figure at this very value (pinning it to
        that value teaches a reader only that nothing changed, a change of 0)."""
        return any(
            key not in sheet.hidden and sheet.values.get(key) == value for sheet in self._sheets[:s]
        )

    def _known(
        self, expression: Mapping[int, float], settles: Callable[[float, float], bool]
    ) -> bool:
        """Whether the known feasible points settle a question about the expression (``settles``
        given its least and greatest value over them), sampling more once if they do not."""
        if settles(*self._spread(expression)):
            return True
        if self._sampled:
            return False
        self._sample()
        return settles(*self._spread(expression))

    def _at_most_zero(self, expression: dict[int, float]) -> bool:
        """Whether a reader can prove the expression (a sum of counts) is 0 (True, the safe
        side, when the solver gives no answer)."""
        if self._known(expression, lambda low, high: high >= 1 - _EPS):
            return False
        try:
            high = self._solve({v: -c for v, c in expression.items()})
        except _Unsolved as exc:
            return _unsolved(exc)
        return high is not None and _value(expression, high) < 1 - _EPS

    def _pinned(self, expression: dict[int, float]) -> bool:
        """Whether the expression can take one whole value only (True, the safe side, when
        the solver gives no answer)."""
        if self._known(expression, _two_integers):
            return False
        try:
            low, high = self._range(expression)
        except _Unsolved as exc:
            return _unsolved(exc)
        return not _two_integers(low, high)

    def _pinned_before(self, s: int, t: int, key: Key) -> bool:
        """Whether the change of ``key`` from snapshot ``s`` to ``t`` was pinned before the
        newest snapshot (published so before this check covered older pairs): hiding more now
        cannot take it back, so it is not the newest snapshot's to answer for."""
        if t == self._newest:
            return False
        pool = self._pool
        if (s, t, key) not in pool.pinned_before:
            if pool.before is None:
                pool.before = Attack(self._sheets[:-1], self._threshold)
            row, _ = pool.before._terms([(t, key, 1.0), (s, key, -1.0)])
            pool.pinned_before[s, t, key] = bool(row) and pool.before._pinned(row)
        return pool.pinned_before[s, t, key]

    def exposed(self, *, first: bool = False) -> set[Key]:
        """Figures of the newest snapshot that must be hidden more: each is a figure that is
        pinned, or shares a line with what is pinned. With ``first``, only the first found
        (whether there is any)."""
        found: set[Key] = set()
        if not self._sheets:
            return found
        # (expression, figure, the pair of snapshots for a change), newest snapshot's first.
        checks: list[tuple[dict[int, float], Key, tuple[int, int] | None]] = []
        for (s, key), var in self._index.items():
            value = self._truth[var]
            if value != 0 and not self._published(s, key, value):
                checks.append(({var: 1.0}, key, None))
        # A change under the threshold between any two snapshots, pinned. Older pairs too:
        # the newest snapshot's figures can pin a change between two earlier ones (32 -> 37
        # hidden in both, then a third report that bounds the figures either side).
        for t in range(1, self._newest + 1):
            later = self._sheets[t]
            for s, sheet in enumerate(self._sheets[:t]):
                for key in later.hidden | sheet.hidden:
                    if key not in sheet.values or key not in later.values:
                        continue
                    change = later.values[key] - sheet.values[key]
                    if not 0 < change < self._threshold:
                        continue
                    row, _ = self._terms([(t, key, 1.0), (s, key, -1.0)])
                    if row:
                        checks.append((row, key, (s, t)))
        undecided = self._undecided([row for row, _, _ in checks])
        # The newest snapshot's own figures (the last unknowns) are where a new exposure most
        # often lies.
        undecided.sort(key=lambda i: max(checks[i][0]) < self._earlier)
        for i in undecided:
            row, key, pair = checks[i]
            if key in found:
                continue
            if self._pinned(row) and (pair is None or not self._pinned_before(*pair, key)):
                found.add(key)
                if first:
                    return found
        # A row of answer groups shown to hold one answer only (its count known or not).
        for s, sheet in enumerate(self._sheets):
            for line in sheet.lines:
                total = sheet.values[line.total]
                if line.whole_ok or total == 0:
                    continue
                full = [p for p in line.parts if sheet.values[p] == total]
                if not full:
                    continue
                rest = [p for p in line.parts if p != full[0]]
                expression, constant = self._terms([(s, p, 1.0) for p in rest])
                if constant > 0:
                    continue
                if not expression or self._at_most_zero(expression):
                    found.update(rest if s == self._newest else {line.total})
                    if first:
                        return found
        return found


class _Unsolved(Exception):
    """HiGHS ended a solve with neither an optimum nor a proof of unboundedness."""


def _unsolved(exc: _Unsolved) -> bool:
    """The audit's answer when the solver has none: the figure counts as given away."""
    logger.warning("disclosure audit: the solver gave no answer (%s); hiding the figure", exc)
    return True


def _model(
    n: int,
    bounds: Sequence[tuple[float, float | None]],
    eq: tuple[list[dict[int, float]], list[float]],
    ub: tuple[list[dict[int, float]], list[float]],
) -> Any:
    """A HiGHS model of the reader's constraints, solved again for each objective."""
    import highspy
    import numpy as np

    highs = _new_highs()
    inf = highspy.kHighsInf
    lower = np.array([b[0] for b in bounds], dtype=float)
    upper = np.array([inf if b[1] is None else b[1] for b in bounds], dtype=float)
    highs.addVars(n, lower, upper)
    for (rows, rhs), equal in ((eq, True), (ub, False)):
        for row, value in zip(rows, rhs, strict=True):
            index = np.array(list(row), dtype=np.int32)
            coefs = np.array(list(row.values()), dtype=float)
            highs.addRow(value if equal else -inf, value, len(index), index, coefs)
    return highs


def _new_highs() -> Any:
    """A silent HiGHS instance. HiGHS prints a banner to standard output the first time one is
    made in a process, which would corrupt ``keyq report --format json``: that first one is
    made with standard output pointed elsewhere."""
    import highspy

    global _BANNER_SHOWN
    if not _BANNER_SHOWN:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as sink:
                os.dup2(sink.fileno(), 1)
                highspy.Highs()  # type: ignore[no-untyped-call]
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    return highs


_BANNER_SHOWN = False


def _value(expression: Mapping[int, float], x: Sequence[float]) -> float:
    return sum(coef * x[var] for var, coef in expression.items())


def _two_integers(low: float, high: float) -> bool:
    """Whether [low, high] holds at least two whole numbers."""
    if not math.isfinite(high) or not math.isfinite(low):
        return True
    return math.floor(high + _EPS) > math.ceil(low - _EPS)


def protect_row(cells: Mapping[str, int], threshold: int) -> tuple[dict[str, int | None], bool]:
    """One row and its total: the cells with unsafe ones replaced by None, and whether the
    total may be shown."""
    values: dict[tuple[str, str], int] = {("cell", k): v for k, v in cells.items()}
    values["total", ""] = sum(cells.values())
    line = Line(("total", ""), tuple(("cell", k) for k in cells))
    hidden = protect(values, [line], threshold)
    shown = {k: None if ("cell", k) in hidden else v for k, v in cells.items()}
    return shown, ("total", "") not in hidden


def describe(count: int | None, threshold: int, status: Status | None = None) -> str:
    """How a count reads in a report: the number, "fewer than N", or why it is hidden."""
    if count is not None:
        return str(count)
    if status is Status.PROTECTING:
        return "hidden to protect a small group"
    return f"fewer than {threshold}"


FOOTNOTE = (
    '"fewer than {t}": the count is under {t}. "hidden to protect a small group": the count is '
    "{t} or more, hidden only so that a smaller one cannot be worked out from the others."
)
