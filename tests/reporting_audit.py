"""An auditor, written apart from bot/disclosure.py, that checks what a reader can work out."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from bot.disclosure import Line


def intervals(
    values: Mapping[Hashable, int], lines: Sequence[Line[Hashable]], hidden: set[Hashable]
) -> dict[Hashable, tuple[int, int]]:
    """Tightest bounds a reader gets by propagating every line until nothing moves."""
    top = sum(abs(v) for v in values.values())
    known = {k: ((v, v) if k not in hidden else (0, top)) for k, v in values.items()}
    moved = True
    while moved:
        moved = False
        for line in lines:
            parts = [known[p] for p in line.parts]
            total = known[line.total]
            lo_total = max(total[0], sum(p[0] for p in parts))
            hi_total = min(total[1], sum(p[1] for p in parts))
            if (lo_total, hi_total) != total:
                known[line.total] = (lo_total, hi_total)
                moved = True
            for index, part in enumerate(line.parts):
                rest_lo = sum(p[0] for i, p in enumerate(parts) if i != index)
                rest_hi = sum(p[1] for i, p in enumerate(parts) if i != index)
                lo = max(known[part][0], lo_total - rest_hi)
                hi = min(known[part][1], hi_total - rest_lo)
                if (lo, hi) != known[part]:
                    known[part] = (lo, hi)
                    moved = True
    return known


def leaks(
    values: Mapping[Hashable, int],
    lines: Sequence[Line[Hashable]],
    hidden: set[Hashable],
    threshold: int,
    *,
    changes: bool = False,
) -> list[str]:
    """Every way a published table (or the change between two) gives away a small group."""
    found = []
    for key, value in values.items():
        if key not in hidden and 0 < value < threshold:
            found.append(f"{key} is shown as {value}")
    known = intervals(values, lines, hidden)
    for key, (lo, hi) in known.items():
        if key in hidden and lo == hi and 0 < values[key] < threshold:
            found.append(f"hidden {key} can be worked out as {lo}")
    if changes:
        return found
    for line in lines:  # "everyone in this row gave the same answer"
        total = values[line.total]
        if line.whole_ok or line.total in hidden or total == 0:
            continue
        for part in line.parts:
            if known[part] == (total, total):
                found.append(f"all {total} of {line.total} are known to be {part}")
    return found
