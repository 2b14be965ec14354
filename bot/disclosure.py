"""Disclosure control: which counts may be shown without revealing a group under the threshold.

Every figure keyq shows passes through here. A count under the threshold is hidden (primary
suppression); then, because the row's total is shown, more cells are hidden until no hidden
cell can be recomputed from the total and its visible siblings, and the hidden cells together
also make a group at least as large as the threshold (complementary suppression).
"""

from __future__ import annotations

from collections.abc import Mapping

MINIMUM_THRESHOLD = 10


def check_threshold(threshold: int) -> int:
    """The threshold may be raised above 10, never lowered."""
    if threshold < MINIMUM_THRESHOLD:
        raise ValueError(f"the disclosure threshold cannot be below {MINIMUM_THRESHOLD}")
    return threshold


def protect_row(cells: Mapping[str, int], threshold: int) -> dict[str, int | None]:
    """The cells of one row whose total is published, with unsafe cells replaced by None.

    If the total itself is under the threshold, every cell is hidden.
    """
    check_threshold(threshold)
    if sum(cells.values()) < threshold:
        return dict.fromkeys(cells)
    hidden = {name for name, count in cells.items() if count < threshold}
    while hidden:
        visible = [name for name in cells if name not in hidden]
        hidden_sum = sum(cells[name] for name in hidden)
        if not visible or (len(hidden) >= 2 and hidden_sum >= threshold):
            break
        hidden.add(min(visible, key=lambda name: (cells[name], name)))
    return {name: None if name in hidden else count for name, count in cells.items()}


def describe(count: int | None, threshold: int) -> str:
    """How a protected count reads in a report."""
    return f"fewer than {threshold}" if count is None else str(count)
