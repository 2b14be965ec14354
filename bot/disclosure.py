"""Disclosure control: which figures may be shown without revealing a group under the threshold.

Every figure keyq shows passes through here. Figures are cells of a system of additive lines
(a total and the parts that add up to it: a unit's groups, a group's units, a breakdown's units).
The rules, applied until nothing changes:

- primary: a figure under the threshold is hidden;
- complementary: in a line whose total is shown, either nothing is hidden or at least two parts
  are, together at least the threshold; a hidden total may not be rebuilt from shown parts;
- audit: no hidden figure may be pinned to one value by the lines and non-negativity (interval
  bounds); where one is, another part of its line is hidden;
- across time: the same rules hold for the change since every earlier published snapshot, so
  comparing two snapshots never shows a change of fewer than the threshold.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

MINIMUM_THRESHOLD = 10
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Line(Generic[Key]):
    """``total`` equals the sum of ``parts`` (figures named by any hashable key)."""

    total: Key
    parts: tuple[Key, ...]


View = tuple[dict[Key, int], frozenset[Key], bool]


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
    earlier: Iterable[tuple[Mapping[Key, int], Iterable[Key]]] = (),
) -> frozenset[Key]:
    """The figures to hide so that none, alone or combined, reveals a group under the threshold.

    Args:
        values: every figure's true value (totals included).
        lines: the additive relations a reader can use.
        threshold: the smallest group that may be revealed (10 or more).
        earlier: (true values, hidden figures) of each earlier published snapshot. A reader
            knows the change of a figure shown in both; those changes are protected too.
    """
    check_threshold(threshold)
    hidden: set[Key] = {key for key, value in values.items() if value < threshold}
    # Each view: figures a reader might combine, those hidden from it anyway, and whether it
    # holds counts (where an exact zero is telling) rather than changes.
    views: list[View[Key]] = [(dict(values), frozenset(), True)]
    for before, before_hidden in earlier:
        change = {key: values[key] - before.get(key, 0) for key in values}
        also = frozenset(before_hidden) | (values.keys() - before.keys())
        hidden.update(k for k, v in change.items() if 0 < v < threshold and k not in also)
        views.append((change, also, False))
    primary = frozenset(hidden)
    _settle(views, lines, hidden, threshold)
    # Greedy hiding can overshoot: show again any extra figure the rules do not need hidden.
    for key in sorted(hidden - primary, key=lambda k: (-abs(values[k]), repr(k))):
        trial = hidden - {key}
        if not _settle(views, lines, trial, threshold):
            hidden = trial
    return frozenset(hidden)


def _settle(
    views: Sequence[View[Key]], lines: Sequence[Line[Key]], hidden: set[Key], threshold: int
) -> bool:
    """Hides more until every rule holds in every view; True if anything had to be hidden."""
    any_change = False
    while True:
        changed = False
        for table, also, is_count in views:
            for line in lines:
                changed |= _complement(table, line, hidden, also, threshold)
            pinned = pinned_figures(table, lines, hidden | also, exact_zero=is_count)
            for key in sorted(pinned, key=repr):
                changed |= _hide_partner(table, lines, key, hidden, also)
        if not changed:
            return any_change
        any_change = True


def _complement(
    table: Mapping[Key, int],
    line: Line[Key],
    hidden: set[Key],
    also: frozenset[Key],
    threshold: int,
) -> bool:
    """Applies the complementary rule to one line; True if it hid something more."""
    secret = hidden | also
    parts_hidden = [p for p in line.parts if p in secret]
    visible = [p for p in line.parts if p not in secret]
    if not visible:
        return False
    if line.total in secret:
        if parts_hidden:
            return False
    elif not parts_hidden or (
        len(parts_hidden) >= 2 and sum(abs(table[p]) for p in parts_hidden) >= threshold
    ):
        return False
    hidden.add(min(visible, key=lambda p: (abs(table[p]), repr(p))))
    return True


def _hide_partner(
    table: Mapping[Key, int],
    lines: Sequence[Line[Key]],
    key: Key,
    hidden: set[Key],
    also: frozenset[Key],
) -> bool:
    """Hides the smallest shown figure sharing a line with ``key``; False if there is none."""
    candidates = {
        k
        for line in lines
        if key == line.total or key in line.parts
        for k in (line.total, *line.parts)
        if k not in hidden and k not in also
    }
    if not candidates:
        return False
    hidden.add(min(candidates, key=lambda k: (abs(table[k]), repr(k))))
    return True


def bounds(
    table: Mapping[Key, int], lines: Sequence[Line[Key]], hidden: Iterable[Key]
) -> dict[Key, tuple[float, float]]:
    """What a reader can infer of each figure: interval bounds from the lines, figures >= 0."""
    secret = set(hidden)
    ceiling = float(sum(max(v, 0) for v in table.values()) or 0)
    known = {
        k: (float(v), float(v)) if k not in secret else (0.0, ceiling) for k, v in table.items()
    }
    for _ in range(50):
        changed = False
        for line in lines:
            lo_t, hi_t = known[line.total]
            lo_sum = sum(known[p][0] for p in line.parts)
            hi_sum = sum(known[p][1] for p in line.parts)
            new_t = (max(lo_t, lo_sum), min(hi_t, hi_sum))
            if new_t != known[line.total]:
                known[line.total], changed = new_t, True
            lo_t, hi_t = known[line.total]
            for part in line.parts:
                lo_p, hi_p = known[part]
                others_lo = lo_sum - known[part][0]
                others_hi = hi_sum - known[part][1]
                new_p = (max(lo_p, lo_t - others_hi), min(hi_p, hi_t - others_lo))
                if new_p != known[part]:
                    known[part], changed = new_p, True
        if not changed:
            break
    return known


def pinned_figures(
    table: Mapping[Key, int],
    lines: Sequence[Line[Key]],
    hidden: Iterable[Key],
    *,
    exact_zero: bool = True,
) -> set[Key]:
    """Hidden figures a reader could work out exactly (zeros count only if ``exact_zero``)."""
    secret = set(hidden)
    known = bounds(table, lines, secret)
    return {k for k in secret if known[k][0] == known[k][1] and (exact_zero or table[k] != 0)}


def protect_row(cells: Mapping[str, int], threshold: int) -> dict[str, int | None]:
    """One row whose total is published: its cells, with unsafe ones replaced by None."""
    values: dict[tuple[str, str], int] = {("cell", k): v for k, v in cells.items()}
    values["total", ""] = sum(cells.values())
    line = Line(("total", ""), tuple(("cell", k) for k in cells))
    hidden = protect(values, [line], threshold)
    return {k: None if ("cell", k) in hidden else v for k, v in cells.items()}


def describe(count: int | None, threshold: int) -> str:
    """How a protected count reads in a report."""
    return f"fewer than {threshold}" if count is None else str(count)
