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
    """``total`` equals the sum of ``parts`` (figures named by any hashable key).

    ``whole_ok`` marks a line where one part holding the whole total reveals no one's answer
    (parts that are units of people, or a subtotal); in a row of answer groups it would.
    """

    total: Key
    parts: tuple[Key, ...]
    whole_ok: bool = False


View = tuple[dict[Key, int], frozenset[Key]]


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
    # Each view: figures a reader might combine (counts, or changes since an earlier snapshot),
    # and those hidden from it anyway.
    views: list[View[Key]] = [(dict(values), frozenset())]
    for before, before_hidden in earlier:
        change = {key: values[key] - before.get(key, 0) for key in values}
        also = frozenset(before_hidden) | (values.keys() - before.keys())
        hidden.update(k for k, v in change.items() if 0 < v < threshold and k not in also)
        views.append((change, also))
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
        for table, also in views:
            for line in lines:
                changed |= _complement(table, line, hidden, also, threshold)
            pinned = exposed(table, lines, hidden | also, threshold)
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


def exposed(
    table: Mapping[Key, int], lines: Sequence[Line[Key]], hidden: Iterable[Key], threshold: int
) -> set[Key]:
    """Hidden figures a reader can work out although they must not be known.

    That is: a figure under the threshold (but not empty) pinned to its exact value, or, in a
    row of answer groups, a part pinned to the whole row (everyone gave the same answer).
    """
    secret = set(hidden)
    known = bounds(table, lines, secret)
    found = {k for k in secret if known[k][0] == known[k][1] and 0 < abs(table[k]) < threshold}
    for line in lines:
        total = table[line.total]
        if line.whole_ok or line.total in secret or total == 0:
            continue
        found.update(p for p in line.parts if p in secret and known[p] == (total, total))
    return found


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
